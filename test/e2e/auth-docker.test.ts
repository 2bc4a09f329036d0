import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { CommandError } from '../helpers/exec';
import { writeBuildContext } from '../helpers/images';
import { requireTools } from '../helpers/tools';
import { startAuthE2eRegistry } from '../auth/e2e-auth-registry';
import { USERS } from '../auth/helpers';

const skip = requireTools(['dockerd', 'docker', 'busybox'], { root: true });

/** The CLI's stderr when `body` fails, or a failure when it succeeds. */
async function failure(body: () => Promise<unknown>): Promise<string> {
  try {
    await body();
  } catch (e) {
    if (e instanceof CommandError) return e.result.stderr + e.result.stdout;
    throw e;
  }
  assert.fail('the command should have failed');
}

describe('docker against Berth with token auth', { skip, timeout: 600_000 }, () => {
  let registry: E2eRegistry | undefined;
  let dockerd: Dockerd | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-auth-docker-'));
    registry = await startAuthE2eRegistry('token');
    dockerd = await startDockerd();
    await writeBuildContext(path.join(work, 'ctx'), 'hello from an authenticated berth');
    await dockerd.docker(['build', '--quiet', '--tag', 'auth-e2e:built', path.join(work, 'ctx')]);
  });

  after(async () => {
    await dockerd?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const docker = (...args: string[]) => dockerd!.docker(args);
  const login = (user: keyof typeof USERS, password: string = USERS[user]) => docker('login', '--username', user, '--password', password, registry!.host);

  test('docker login fails with a wrong password or an unknown user', () =>
    withRegistryLogs(registry, async () => {
      assert.match(await failure(() => login('alice', 'wrong-password')), /unauthorized|authentication required/i);
      assert.match(await failure(() => docker('login', '--username', 'mallory', '--password', 'x', registry!.host)), /unauthorized|authentication required/i);
    }));

  test('docker login, then push and pull a private repository', () =>
    withRegistryLogs(registry, async () => {
      assert.match(await login('alice'), /Login Succeeded/);
      const ref = `${registry!.host}/private/app:v1`;
      await docker('tag', 'auth-e2e:built', ref);
      const out = await docker('push', ref);
      assert.match(out, /v1: digest: sha256:[0-9a-f]{64}/);
      await docker('rmi', ref);
      await docker('pull', ref);
      assert.equal(await docker('run', '--rm', '--network', 'none', ref), 'hello from an authenticated berth\n');
      // A public image, pushed by alice, and a mount from private to public she may pull from.
      const pub = `${registry!.host}/public/app:v1`;
      await docker('tag', 'auth-e2e:built', pub);
      assert.match(await docker('push', pub), /Mounted from private\/app/);
      await docker('rmi', ref, pub);
    }));

  test('anonymous: docker pull of the public repository works, of the private one says "pull access denied"', () =>
    withRegistryLogs(registry, async () => {
      await docker('logout', registry!.host);
      const pub = `${registry!.host}/public/app:v1`;
      await docker('pull', pub);
      assert.equal(await docker('run', '--rm', '--network', 'none', pub), 'hello from an authenticated berth\n');
      const msg = await failure(() => docker('pull', `${registry!.host}/private/app:v1`));
      assert.match(msg, /pull access denied/);
      const push = await failure(() => docker('push', pub));
      assert.match(push, /denied|unauthorized|authentication required/i);
    }));

  test('docker push without push rights fails cleanly; pull with read rights works', () =>
    withRegistryLogs(registry, async () => {
      assert.match(await login('bob'), /Login Succeeded/);
      await docker('pull', `${registry!.host}/private/app:v1`);
      const ref = `${registry!.host}/private/app:bob`;
      await docker('tag', 'auth-e2e:built', ref);
      const msg = await failure(() => docker('push', ref));
      assert.match(msg, /denied|unauthorized|authentication required/i);
      const tags = await fetch(`${registry!.url}/v2/private/app/tags/list`);
      assert.equal(tags.status, 401, 'still private');
      await docker('logout', registry!.host);
    }));
});
