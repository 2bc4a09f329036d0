import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBerthImage, copyBuildContext, freePort, waitForHealthy, waitForStatus } from '../helpers/base-image';
import { removeTree } from '../helpers/daemon';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { buildNodeStandIn, OFFICIAL_NODE_IMAGE } from '../helpers/node-standin-image';
import { requireTools } from '../helpers/tools';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const skip = requireTools(['dockerd', 'docker', 'debootstrap', 'chroot', 'npm', 'tar', 'cp'], { root: true });

// docker-image.test.ts builds on bases assembled from the host's node; this one builds the
// Dockerfile as a user would, with no build argument, so FROM its default node:24-bookworm-slim.
// That image cannot be pulled here: the one it gets is a local stand-in of the same name
// (test/helpers/node-standin-image.ts says how it is made and how it differs).
describe(`the Dockerfile built with no build argument, on ${OFFICIAL_NODE_IMAGE} (a local stand-in)`, { skip, timeout: 1_800_000 }, () => {
  let dockerd: Dockerd;
  let context: string | undefined;
  let registry: string;
  const image = 'berth:default-base';
  const container = 'berth-default-base-test';

  before(async () => {
    dockerd = await startDockerd();
    const base = await buildNodeStandIn(dockerd);
    console.log(`# ${base.tag} stand-in (node ${base.node}, npm ${base.npm}) ${base.cached ? 'imported from the cache' : 'built'} in ${base.buildMs} ms`);
    context = await copyBuildContext(REPO_ROOT);
    const started = Date.now();
    await buildBerthImage(dockerd, context, undefined, image);
    console.log(`# docker build with no build argument took ${Date.now() - started} ms`);
    registry = `127.0.0.1:${await freePort()}`;
    await dockerd.docker(['run', '-d', '--name', container, '--network', 'host', '-e', `REGISTRY_HTTP_ADDR=${registry}`, '-v', 'berth-default-base-data:/var/lib/berth', image]);
    await waitForStatus(`http://${registry}/v2/`, 200, 30_000, () => dockerd.docker(['logs', container]).catch((e: Error) => e.message));
  });

  after(async () => {
    if (dockerd) {
      await dockerd.docker(['rm', '-f', '-v', container], 30_000).catch(() => undefined);
      await dockerd.docker(['volume', 'rm', '-f', 'berth-default-base-data'], 30_000).catch(() => undefined);
      await dockerd.stop();
    }
    if (context) await removeTree(context);
  });

  it('runs Node 24 as the base image’s `node` user', async () => {
    const version = await dockerd.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'node', image, '--version']);
    assert.match(version, /^v24\./);
    const id = await dockerd.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'id', image]);
    assert.match(id, /^uid=1000\(node\) gid=1000\(node\)/);
    const top = await dockerd.docker(['top', container, '-o', 'pid,uid,args']);
    assert.match(top, /^\s*\d+\s+1000\s+node \/app\/dist\/src\/main\.js serve/m);
  });

  it('answers /v2/ as a registry', async () => {
    const res = await fetch(`http://${registry}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('turns healthy by its own HEALTHCHECK, which needs no shell and follows REGISTRY_HTTP_ADDR', async () => {
    const config = JSON.parse(await dockerd.docker(['image', 'inspect', '-f', '{{json .Config.Healthcheck}}', image])) as { Test: string[] };
    assert.deepEqual(config.Test, ['CMD', 'node', '/app/dist/src/main.js', 'healthcheck']);
    const health = await waitForHealthy(dockerd, container, 90_000);
    assert.ok(health.Log.at(-1)!.Output.includes(`healthcheck: http://${registry}/healthz: ok`), JSON.stringify(health.Log));
  });

  it('carries the OCI labels, with version, revision and date left empty when no build argument sets them', async () => {
    const labels = JSON.parse(await dockerd.docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', image])) as Record<string, string>;
    const oci = Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith('org.opencontainers.image.')));
    assert.deepEqual(oci, {
      'org.opencontainers.image.title': 'Berth',
      'org.opencontainers.image.description': 'An OCI Distribution v1.1 container registry',
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.source': 'https://berth.example/source',
      'org.opencontainers.image.version': '',
      'org.opencontainers.image.revision': '',
      'org.opencontainers.image.created': '',
    });
  });
});
