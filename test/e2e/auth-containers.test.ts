import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeContainersEnv, policyFlag, type ContainersEnv } from '../helpers/containers-env';
import { withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { CommandError, run } from '../helpers/exec';
import { umociImage, writeBuildContext } from '../helpers/images';
import { requireTools } from '../helpers/tools';
import { startAuthE2eRegistry, type AuthMode } from '../auth/e2e-auth-registry';
import { USERS } from '../auth/helpers';

const creds = (user: keyof typeof USERS, password: string = USERS[user]) => `${user}:${password}`;

async function failure(body: () => Promise<unknown>): Promise<string> {
  try {
    await body();
  } catch (e) {
    if (e instanceof CommandError) return e.result.stderr + e.result.stdout;
    throw e;
  }
  assert.fail('the command should have failed');
}

for (const mode of ['token', 'htpasswd'] as AuthMode[]) {
  describe(`skopeo against Berth with ${mode} auth`, { skip: requireTools(['skopeo', 'umoci', 'busybox']), timeout: 300_000 }, () => {
    let registry: E2eRegistry | undefined;
    let containers: ContainersEnv | undefined;
    let work: string;

    before(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'e2e-auth-skopeo-'));
      containers = await makeContainersEnv();
      registry = await startAuthE2eRegistry(mode);
      await umociImage(path.join(work, 'layout'), 'v1', { message: 'skopeo with credentials' });
    });
    after(async () => {
      await registry?.stop();
      await containers?.cleanup();
      await rm(work, { recursive: true, force: true });
    });

    const skopeo = async (...args: string[]) => (await run('skopeo', [policyFlag(containers!), ...args], { env: containers!.env })).stdout;
    const layout = () => `oci:${path.join(work, 'layout')}:v1`;

    test('copy with --dest-creds to private and public, inspect with --creds; anonymous reads public only', () =>
      withRegistryLogs(registry, async () => {
        const priv = `docker://${registry!.host}/private/skopeo:v1`;
        const pub = `docker://${registry!.host}/public/skopeo:v1`;
        await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds('alice'), layout(), priv);
        await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds('alice'), layout(), pub);
        const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--creds', creds('alice'), priv)) as { Name: string };
        assert.equal(inspected.Name, `${registry!.host}/private/skopeo`);
        await skopeo('inspect', '--tls-verify=false', '--no-creds', pub);
        assert.match(await failure(() => skopeo('inspect', '--tls-verify=false', '--no-creds', priv)), /unauthorized|authentication required|denied/i);
        assert.match(await failure(() => skopeo('inspect', '--tls-verify=false', '--creds', creds('alice', 'wrong'), priv)), /unauthorized|authentication required|denied/i);
        // bob may pull private but not push to it.
        await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds('bob'), priv, `oci:${path.join(work, 'bob')}:v1`);
        assert.match(
          await failure(() => skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds('bob'), layout(), `docker://${registry!.host}/private/skopeo:bob`)),
          /denied|unauthorized|authentication required/i,
        );
      }));
  });
}

describe('podman against Berth with token auth', { skip: requireTools(['podman', 'runc', 'conmon', 'busybox'], { root: true }), timeout: 300_000 }, () => {
  let registry: E2eRegistry | undefined;
  let containers: ContainersEnv | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-auth-podman-'));
    containers = await makeContainersEnv();
    registry = await startAuthE2eRegistry('token');
  });
  after(async () => {
    await registry?.stop();
    await containers?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  const podman = async (...args: string[]) => (await run('podman', args, { env: containers!.env })).stdout;

  test('push and pull with --creds; podman login; anonymous pull of private fails', () =>
    withRegistryLogs(registry, async () => {
      const ref = `${registry!.host}/private/podman:v1`;
      await writeBuildContext(path.join(work, 'ctx'), 'podman with credentials');
      await podman('build', '--quiet', '--tag', ref, path.join(work, 'ctx'));
      assert.match(await failure(() => podman('push', '--tls-verify=false', ref)), /unauthorized|authentication required|denied/i);
      await podman('push', '--tls-verify=false', '--creds', creds('alice'), ref);
      await podman('rmi', ref);
      assert.match(await failure(() => podman('pull', '--tls-verify=false', ref)), /unauthorized|authentication required|denied/i);
      await podman('pull', '--quiet', '--tls-verify=false', '--creds', creds('alice'), ref);
      await podman('rmi', ref);
      assert.match(await failure(() => podman('login', '--tls-verify=false', '--username', 'alice', '--password', 'wrong', registry!.host)), /unauthorized|invalid username\/password|authentication required/i);
      await podman('login', '--tls-verify=false', '--username', 'alice', '--password', USERS.alice, registry!.host);
      await podman('pull', '--quiet', '--tls-verify=false', ref);
      assert.equal(await podman('run', '--rm', ref), 'podman with credentials\n');
    }));
});
