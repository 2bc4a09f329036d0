import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeContainersEnv, type ContainersEnv } from '../helpers/containers-env';
import { startE2eRegistry, withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { run } from '../helpers/exec';
import { DOCKER_MANIFEST, OCI_MANIFEST } from '../helpers/images';
import { assertBlobsServed, fetchManifest } from '../helpers/registry-client';
import { requireTool, requireTools } from '../helpers/tools';

const skip = requireTools(['buildah', 'busybox'], { root: true });

describe('buildah against Berth', { skip, timeout: 300_000 }, () => {
  let registry: E2eRegistry | undefined;
  let containers: ContainersEnv | undefined;
  let work: string;
  let image: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-buildah-'));
    containers = await makeContainersEnv();
    registry = await startE2eRegistry();
    // An image assembled without running anything: scratch + static busybox.
    const container = (await buildah('from', 'scratch')).trim();
    await buildah('copy', container, requireTool('busybox'), '/bin/busybox');
    await buildah('config', '--cmd', '["/bin/busybox", "echo", "buildah"]', container);
    image = 'localhost/e2e/buildah:v1';
    await buildah('commit', '--quiet', container, image);
    await buildah('rm', container);
  });

  after(async () => {
    await registry?.stop();
    await containers?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  async function buildah(...args: string[]): Promise<string> {
    return (await run('buildah', args, { env: containers!.env })).stdout;
  }

  for (const [format, mediaType] of [
    ['oci', OCI_MANIFEST],
    ['v2s2', DOCKER_MANIFEST],
  ] as const) {
    test(`buildah push --format ${format}`, () =>
      withRegistryLogs(registry, async () => {
        const digestFile = path.join(work, `digest-${format}`);
        await buildah('push', '--tls-verify=false', '--format', format, '--digestfile', digestFile, image, `docker://${registry!.host}/e2e/buildah-${format}:v1`);
        const pushed = (await readFile(digestFile, 'utf8')).trim();
        const served = await fetchManifest(registry!.url, `e2e/buildah-${format}`, 'v1');
        assert.equal(served.digest, pushed);
        assert.equal(served.contentType, mediaType);
        assert.equal(await assertBlobsServed(registry!.url, `e2e/buildah-${format}`, served.body), 2);
      }));
  }
});
