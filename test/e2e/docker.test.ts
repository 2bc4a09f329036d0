import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeContainersEnv, policyFlag, type ContainersEnv } from '../helpers/containers-env';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { startE2eRegistry, withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { run } from '../helpers/exec';
import { DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, foreignArch, hostArch, layoutIndex, umociImage, writeBuildContext } from '../helpers/images';
import { fetchManifest } from '../helpers/registry-client';
import { requireTools } from '../helpers/tools';

const skip = requireTools(['dockerd', 'docker', 'busybox'], { root: true });

describe('docker against Berth', { skip, timeout: 600_000 }, () => {
  let registry: E2eRegistry | undefined;
  let dockerd: Dockerd | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-docker-'));
    registry = await startE2eRegistry();
    dockerd = await startDockerd();
  });

  after(async () => {
    await dockerd?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const docker = (...args: string[]) => dockerd!.docker(args);
  const repoDigests = async (ref: string) => JSON.parse(await docker('image', 'inspect', '--format', '{{json .RepoDigests}}', ref)) as string[];

  test('build → push → rmi → pull → run, and a push to a second repository mounts the layer', () =>
    withRegistryLogs(registry, async () => {
      const ref = `${registry!.host}/e2e/hello:v1`;
      const ctx = path.join(work, 'hello');
      await writeBuildContext(ctx, 'hello from docker via berth');
      await docker('build', '--quiet', '--tag', ref, ctx);
      const builtId = (await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim();

      const pushOut = await docker('push', ref);
      const pushed = /v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushOut);
      assert.ok(pushed, `no digest in docker push output:\n${pushOut}`);
      const served = await fetchManifest(registry!.url, 'e2e/hello', 'v1');
      assert.equal(served.digest, pushed[1]);
      assert.equal(served.body.length, Number(pushed[2]));
      assert.equal(served.contentType, DOCKER_MANIFEST);

      await docker('rmi', ref);
      const pullOut = await docker('pull', ref);
      assert.match(pullOut, new RegExp(`Digest: ${pushed[1]}`));
      assert.deepEqual(await repoDigests(ref), [`${registry!.host}/e2e/hello@${pushed[1]}`]);
      // The image ID is the config digest: the same config came back.
      assert.equal((await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), builtId);
      assert.equal(await docker('run', '--rm', '--network', 'none', ref), 'hello from docker via berth\n');

      // docker knows the layer lives in e2e/hello and asks to mount it; it says so only on a 201.
      const second = `${registry!.host}/e2e/hello-copy:v1`;
      await docker('tag', ref, second);
      const secondOut = await docker('push', second);
      assert.match(secondOut, /Mounted from e2e\/hello/);
      const copied = await fetchManifest(registry!.url, 'e2e/hello-copy', 'v1');
      assert.equal(copied.digest, pushed[1]);
    }));

  describe('pulls of OCI content pushed by skopeo', { skip: requireTools(['skopeo', 'umoci']) }, () => {
    let containers: ContainersEnv | undefined;
    before(async () => {
      containers = await makeContainersEnv();
    });
    after(async () => {
      await containers?.cleanup();
    });
    const skopeoCopy = (args: string[]) =>
      run('skopeo', [policyFlag(containers!), 'copy', '--dest-tls-verify=false', ...args], { env: containers!.env });

    test('an OCI image manifest (made by umoci, no mediaType field)', () =>
      withRegistryLogs(registry, async () => {
        const layout = path.join(work, 'oci-layout');
        const made = await umociImage(layout, 'v1', { message: 'oci manifest pulled by docker' });
        assert.equal(made.json.mediaType, undefined);
        await skopeoCopy([`oci:${layout}:v1`, `docker://${registry!.host}/e2e/oci-image:v1`]);
        const served = await fetchManifest(registry!.url, 'e2e/oci-image', 'v1');
        assert.equal(served.digest, made.digest);
        assert.equal(served.contentType, OCI_MANIFEST);

        const ref = `${registry!.host}/e2e/oci-image:v1`;
        const pullOut = await docker('pull', ref);
        assert.match(pullOut, new RegExp(`Digest: ${made.digest}`));
        assert.deepEqual(await repoDigests(ref), [`${registry!.host}/e2e/oci-image@${made.digest}`]);
        assert.equal((await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), made.json.config!.digest);
        assert.equal(await docker('run', '--rm', '--network', 'none', ref), 'oci manifest pulled by docker\n');
      }));

    test('an OCI image index with two platforms', () =>
      withRegistryLogs(registry, async () => {
        const layout = path.join(work, 'oci-index-layout');
        const native = await umociImage(layout, 'native', { message: `index child for ${hostArch()}` });
        await umociImage(layout, 'foreign', { message: 'never run here', arch: foreignArch() });
        const index = await layoutIndex(layout, 'multi', [
          { tag: 'native', arch: hostArch() },
          { tag: 'foreign', arch: foreignArch() },
        ]);
        await skopeoCopy(['--all', `oci:${layout}:multi`, `docker://${registry!.host}/e2e/oci-index:v1`]);
        const served = await fetchManifest(registry!.url, 'e2e/oci-index', 'v1');
        assert.equal(served.digest, index.digest);
        assert.equal(served.contentType, OCI_INDEX);

        const ref = `${registry!.host}/e2e/oci-index:v1`;
        const pullOut = await docker('pull', ref);
        assert.match(pullOut, new RegExp(`Digest: ${index.digest}`));
        assert.deepEqual(await repoDigests(ref), [`${registry!.host}/e2e/oci-index@${index.digest}`]);
        assert.equal((await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), native.json.config!.digest);
        assert.equal(await docker('run', '--rm', '--network', 'none', ref), `index child for ${hostArch()}\n`);
      }));
  });
});
