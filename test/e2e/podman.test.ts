import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeContainersEnv, type ContainersEnv } from '../helpers/containers-env';
import { startE2eRegistry, withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { run } from '../helpers/exec';
import { DOCKER_LIST, OCI_INDEX, foreignArch, hostArch, writeBuildContext } from '../helpers/images';
import { assertBlobsServed, fetchManifest } from '../helpers/registry-client';
import { requireTools } from '../helpers/tools';

const skip = requireTools(['podman', 'runc', 'conmon', 'busybox'], { root: true });

describe('podman against Berth', { skip, timeout: 300_000 }, () => {
  let registry: E2eRegistry | undefined;
  let containers: ContainersEnv | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-podman-'));
    containers = await makeContainersEnv();
    registry = await startE2eRegistry();
  });

  after(async () => {
    await registry?.stop();
    await containers?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  const podman = async (...args: string[]) => (await run('podman', args, { env: containers!.env })).stdout;
  const digestFile = () => path.join(work, `digest-${Date.now()}-${Math.random()}`);

  test('build → push → rmi → pull → run', () =>
    withRegistryLogs(registry, async () => {
      const ref = `${registry!.host}/e2e/podman:v1`;
      const ctx = path.join(work, 'ctx');
      await writeBuildContext(ctx, 'hello from podman via berth');
      await podman('build', '--quiet', '--tag', ref, ctx);
      const builtId = (await podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim();

      const pushedFile = digestFile();
      await podman('push', '--tls-verify=false', '--digestfile', pushedFile, ref);
      const pushed = (await readFile(pushedFile, 'utf8')).trim();
      const served = await fetchManifest(registry!.url, 'e2e/podman', 'v1');
      assert.equal(served.digest, pushed);
      assert.equal(await assertBlobsServed(registry!.url, 'e2e/podman', served.body), 2);

      await podman('rmi', ref);
      await podman('pull', '--quiet', '--tls-verify=false', ref);
      assert.equal((await podman('image', 'inspect', '--format', '{{.Digest}}', ref)).trim(), pushed);
      assert.equal((await podman('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), builtId);
      assert.equal(await podman('run', '--rm', ref), 'hello from podman via berth\n');
    }));

  test('manifest create + add + push --all of two platforms', () =>
    withRegistryLogs(registry, async () => {
      // Different contents per platform, so no build cache can hand back the other one.
      await writeBuildContext(path.join(work, 'native'), 'podman manifest list');
      await writeBuildContext(path.join(work, 'foreign'), 'podman manifest list, foreign child');
      const native = 'localhost/e2e/native:v1';
      const foreign = 'localhost/e2e/foreign:v1';
      await podman('build', '--quiet', '--platform', `linux/${hostArch()}`, '--tag', native, path.join(work, 'native'));
      await podman('build', '--quiet', '--platform', `linux/${foreignArch()}`, '--tag', foreign, path.join(work, 'foreign'));
      const list = 'localhost/e2e/list:v1';
      await podman('manifest', 'create', list);
      await podman('manifest', 'add', list, `containers-storage:${native}`);
      await podman('manifest', 'add', list, `containers-storage:${foreign}`);

      const pushedFile = digestFile();
      await podman('manifest', 'push', '--all', '--tls-verify=false', '--digestfile', pushedFile, list, `docker://${registry!.host}/e2e/podman-list:v1`);
      const pushed = (await readFile(pushedFile, 'utf8')).trim();
      const served = await fetchManifest(registry!.url, 'e2e/podman-list', 'v1');
      assert.equal(served.digest, pushed);
      assert.ok([DOCKER_LIST, OCI_INDEX].includes(served.contentType), served.contentType);
      const children = (JSON.parse(served.body.toString('utf8')) as { manifests: { digest: string; platform: { architecture: string } }[] })
        .manifests;
      assert.deepEqual(children.map((c) => c.platform.architecture).sort(), [hostArch(), foreignArch()].sort());
      for (const child of children) {
        const m = await fetchManifest(registry!.url, 'e2e/podman-list', child.digest);
        assert.equal(m.digest, child.digest);
        await assertBlobsServed(registry!.url, 'e2e/podman-list', m.body);
      }

      // Pulling the list resolves this machine's platform.
      const ref = `${registry!.host}/e2e/podman-list:v1`;
      await podman('pull', '--quiet', '--tls-verify=false', ref);
      assert.equal(await podman('run', '--rm', ref), 'podman manifest list\n');
    }));
});
