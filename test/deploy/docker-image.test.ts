import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBaseImages, buildBerthImage, copyBuildContext, freePort, pushAndPullSmokeImage, waitForHealthy, waitForStatus, type BaseImages } from '../helpers/base-image';
import { removeTree } from '../helpers/daemon';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { requireTools } from '../helpers/tools';

const REPO_ROOT = path.resolve(__dirname, '../../..');
// What a release build passes for the labels (the Dockerfile's header shows how).
const LABEL_ARGS = { VERSION: '1.2.3', REVISION: '0123456789abcdef0123456789abcdef01234567', CREATED: '2026-12-05T01:02:03Z', SOURCE: 'https://example.test/berth' };
const skip = requireTools(['dockerd', 'docker', 'busybox', 'ldd', 'tar', 'cp'], { root: true });

/** Layers a `docker push` uploaded, as opposed to ones the registry already had. */
function pushedLayers(output: string): string[] {
  return output.split('\n').filter((l) => /: Pushed\s*$/.test(l));
}

describe('the Dockerfile, built and run with the real Docker engine', { skip, timeout: 1_800_000 }, () => {
  let dockerd: Dockerd;
  let bases: BaseImages;
  let context: string | undefined;
  let port: number;
  let registry: string;
  const image = 'berth:test';
  const container = 'berth-image-test';

  before(async () => {
    dockerd = await startDockerd();
    bases = await buildBaseImages(dockerd);
    console.log(`# base images (${bases.runtime}, ${bases.builder}) assembled from the host in ${bases.buildMs} ms`);
    context = await copyBuildContext(REPO_ROOT);
    const started = Date.now();
    await buildBerthImage(dockerd, context, bases, image, LABEL_ARGS);
    console.log(`# docker build (cold) took ${Date.now() - started} ms`);
    const size = Number(await dockerd.docker(['image', 'inspect', '-f', '{{.Size}}', image]));
    const baseSize = Number(await dockerd.docker(['image', 'inspect', '-f', '{{.Size}}', bases.runtime]));
    console.log(`# image size: ${(size / 1e6).toFixed(1)} MB (base with node: ${(baseSize / 1e6).toFixed(1)} MB, Berth on top: ${((size - baseSize) / 1e6).toFixed(1)} MB)`);
    port = await freePort();
    registry = `127.0.0.1:${port}`;
    await dockerd.docker(['run', '-d', '--name', container, '--network', 'host', '-e', `REGISTRY_HTTP_ADDR=${registry}`, '-v', 'berth-image-test-data:/var/lib/berth', image]);
    await waitForStatus(`http://${registry}/readyz`, 200, 30_000, () => dockerd.docker(['logs', container]).catch((e: Error) => e.message));
  });

  after(async () => {
    if (dockerd) {
      await dockerd.docker(['rm', '-f', '-v', container], 30_000).catch(() => undefined);
      await dockerd.docker(['volume', 'rm', '-f', 'berth-image-test-data'], 30_000).catch(() => undefined);
      await dockerd.stop();
    }
    if (context) await removeTree(context);
  });

  it('runs as a non-root user, with its storage on a volume and port 5000 exposed', async () => {
    const config = JSON.parse(await dockerd.docker(['image', 'inspect', '-f', '{{json .Config}}', image])) as {
      User: string;
      Volumes: Record<string, unknown>;
      ExposedPorts: Record<string, unknown>;
      Entrypoint: string[];
      Cmd: string[];
    };
    assert.equal(config.User, '1000:1000');
    assert.deepEqual(Object.keys(config.Volumes), ['/var/lib/berth']);
    assert.deepEqual(Object.keys(config.ExposedPorts), ['5000/tcp']);
    assert.deepEqual([...config.Entrypoint, ...config.Cmd], ['node', '/app/dist/src/main.js', 'serve']);
    const top = await dockerd.docker(['top', container, '-o', 'pid,uid,args']);
    assert.match(top, /^\s*\d+\s+1000\s+node \/app\/dist\/src\/main\.js serve/m);
  });

  it('answers its liveness and readiness probes', async () => {
    assert.equal((await fetch(`http://${registry}/healthz`)).status, 200);
    assert.equal((await fetch(`http://${registry}/readyz`)).status, 200);
  });

  it('turns healthy by its own HEALTHCHECK on a base with no shell, following REGISTRY_HTTP_ADDR', async () => {
    const health = await waitForHealthy(dockerd, container, 90_000);
    assert.ok(health.Log.at(-1)!.Output.includes(`healthcheck: http://${registry}/healthz: ok`), JSON.stringify(health.Log));
  });

  it('carries the OCI labels, with the version, revision, date and source the build passed', async () => {
    const labels = JSON.parse(await dockerd.docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', image])) as Record<string, string>;
    assert.equal(labels['org.opencontainers.image.title'], 'Berth');
    assert.equal(labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.ok(labels['org.opencontainers.image.description']);
    assert.equal(labels['org.opencontainers.image.version'], LABEL_ARGS.VERSION);
    assert.equal(labels['org.opencontainers.image.revision'], LABEL_ARGS.REVISION);
    assert.equal(labels['org.opencontainers.image.created'], LABEL_ARGS.CREATED);
    assert.equal(labels['org.opencontainers.image.source'], LABEL_ARGS.SOURCE);
  });

  it('holds production dependencies only, no sources, tests or build tools', async () => {
    const probe = `const fs = require('fs');
      const has = (p) => fs.existsSync(p);
      console.log(JSON.stringify({
        pino: has('/app/node_modules/pino/package.json'),
        bcrypt: require('/app/node_modules/bcrypt').compareSync('x', require('/app/node_modules/bcrypt').hashSync('x', 4)),
        typescript: has('/app/node_modules/typescript'), supertest: has('/app/node_modules/supertest'),
        npm: has('/usr/local/lib/node_modules/npm'), src: has('/app/src'), tests: has('/app/dist/test'),
        maps: has('/app/dist/src/main.js.map'), npmrc: has('/root/.npmrc') || has('/app/.npmrc'),
      }));`;
    const out = await dockerd.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'node', image, '-e', probe]);
    assert.deepEqual(JSON.parse(out), {
      pino: true,
      bcrypt: true,
      typescript: false,
      supertest: false,
      npm: false,
      src: false,
      tests: false,
      maps: false,
      npmrc: false,
    });
  });

  it('keeps the build arguments and the build stages out of the final image history', async () => {
    const history = await dockerd.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]);
    assert.doesNotMatch(history, /npm ci|tsc|NODE_EXTRA_CA_CERTS|npmrc|_authToken/i);
  });

  it('accepts a docker push and serves it back to docker pull', async () => {
    await pushAndPullSmokeImage(dockerd, `${registry}/smoke/hello:1`);
  });

  it('re-pushes only the top layer after a source change', async () => {
    const first = `${registry}/berth/server:1`;
    await dockerd.docker(['tag', image, first]);
    const firstPush = await dockerd.docker(['push', first], 300_000);
    assert.ok(pushedLayers(firstPush).length >= 3, firstPush);
    await appendFile(path.join(context!, 'src/main.ts'), `\n// rebuilt by the image test at ${Date.now()}\n`);
    const started = Date.now();
    const second = `${registry}/berth/server:2`;
    await buildBerthImage(dockerd, context!, bases, second, LABEL_ARGS);
    console.log(`# docker build after a source change took ${Date.now() - started} ms`);
    const secondPush = await dockerd.docker(['push', second], 300_000);
    assert.equal(pushedLayers(secondPush).length, 1, secondPush);
    const layers = async (ref: string) => JSON.parse(await dockerd.docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref])) as string[];
    const [a, b] = [await layers(first), await layers(second)];
    assert.equal(a.length, b.length);
    assert.deepEqual(b.slice(0, -1), a.slice(0, -1));
    assert.notEqual(b.at(-1), a.at(-1));
  });
});
