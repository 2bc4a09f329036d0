import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema';
import { authConfig, authFixture, basic, tokenFor, USERS, type AuthFixture } from '../auth/helpers';
import { startInsightRegistry, type InsightRegistry } from './insight-server';
import { pushImage, Pusher } from './images';

const IMAGE = { layers: [[{ name: 'app/main', content: 'main' }]] };

/** alice owns private/**, bob may only pull it, carol may not. */
const ACCESS = {
  catalog: { users: ['alice'], groups: [] },
  repositories: { 'private/**': { policies: [{ users: ['alice'], actions: ['pull', 'push', 'delete'] }, { users: ['bob'], actions: ['pull'] }] } },
} satisfies NonNullable<ConfigInput['auth']>['accesscontrol'];

for (const mode of ['htpasswd', 'token'] as const) {
  describe(`insight under ${mode} auth: the image's pull permission`, () => {
    let fx: AuthFixture;
    let reg: InsightRegistry;
    before(async () => {
      fx = await authFixture();
      const token = mode === 'token' ? { token: { service: 'berth', issuer: 'berth', server: {} } } : {};
      reg = await startInsightRegistry({ config: authConfig({ htpasswd: { path: fx.htpasswd }, accesscontrol: ACCESS, ratelimit: { maxfailures: 1000 }, ...token }) });
      const alice = mode === 'token' ? `Bearer ${await tokenFor(reg.url, 'alice', ['repository:private/app:pull,push'])}` : basic('alice', USERS.alice);
      await pushImage(new Pusher(reg.url, alice), 'private/app', '1.0', IMAGE);
    });
    after(async () => {
      await reg.close();
      await fx.cleanup();
    });

    test('anonymous: 401 with a challenge for repository:<name>:pull', async () => {
      for (const path of ['/v2/private/app/_berth/insight/1.0', '/v2/private/app/_berth/insight/1.0/layers/0/files', '/v2/private/app/_berth/insight/1.0/files?dir=app']) {
        const res = await fetch(`${reg.url}${path}`);
        assert.equal(res.status, 401);
        const challenge = String(res.headers.get('www-authenticate'));
        if (mode === 'token') assert.match(challenge, /^Bearer realm="[^"]+",service="berth",scope="repository:private\/app:pull"$/);
        else assert.match(challenge, /^Basic realm=/);
      }
    });

    test('a pull-only user gets the report and the files; a user who may not pull is denied', async () => {
      const as = async (user: 'bob' | 'carol') => (mode === 'token' ? `Bearer ${await tokenFor(reg.url, user, ['repository:private/app:pull'])}` : basic(user, USERS[user]));
      const denied = await new Pusher(reg.url, await as('carol')).get('/v2/private/app/_berth/insight/1.0');
      assert.equal(denied.status, mode === 'token' ? 401 : 403);
      const reader = new Pusher(reg.url, await as('bob'));
      let res = await reader.get('/v2/private/app/_berth/insight/1.0');
      for (let i = 0; res.status === 202 && i < 100; i++) {
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 20));
        res = await reader.get('/v2/private/app/_berth/insight/1.0');
      }
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { status: string }).status, 'complete');
      const files = await reader.get('/v2/private/app/_berth/insight/1.0/layers/0/files');
      assert.equal(files.status, 200);
      assert.deepEqual(((await files.json()) as { entries: Array<{ path: string }> }).entries.map((e) => e.path), ['app/main']);
      const dir = await reader.get('/v2/private/app/_berth/insight/1.0/files?dir=app');
      assert.equal(dir.status, 200);
      assert.deepEqual(((await dir.json()) as { entries: Array<{ path: string }> }).entries.map((e) => e.path), ['app/main']);
      const carol = await new Pusher(reg.url, await as('carol')).get('/v2/private/app/_berth/insight/1.0/files?dir=app');
      assert.equal(carol.status, mode === 'token' ? 401 : 403);
    });

    test('the storage view needs the full catalog: alice (catalog) gets it, bob (pull only) does not', async () => {
      const as = async (user: 'alice' | 'bob') => (mode === 'token' ? `Bearer ${await tokenFor(reg.url, user, ['registry:catalog:*'])}` : basic(user, USERS[user]));
      const anonymous = await fetch(`${reg.url}/v2/_berth/insight/storage`);
      assert.equal(anonymous.status, 401);
      if (mode === 'token') assert.match(String(anonymous.headers.get('www-authenticate')), /scope="registry:catalog:\*"/);
      const bob = await new Pusher(reg.url, await as('bob')).get('/v2/_berth/insight/storage');
      assert.equal(bob.status, mode === 'token' ? 401 : 403);
      // HEAD answers after auth without computing the view: how the web UI decides to link to it.
      assert.equal((await fetch(`${reg.url}/v2/_berth/insight/storage`, { method: 'HEAD' })).status, 401);
      const headAs = async (user: 'alice' | 'bob') => fetch(`${reg.url}/v2/_berth/insight/storage`, { method: 'HEAD', headers: { authorization: await as(user) } });
      assert.equal((await headAs('bob')).status, mode === 'token' ? 401 : 403);
      assert.equal((await headAs('alice')).status, 200);
      const alice = await new Pusher(reg.url, await as('alice')).get('/v2/_berth/insight/storage');
      assert.equal(alice.status, 200);
      const view = (await alice.json()) as { repositories: Array<{ name: string; bytes: number }> };
      assert.deepEqual(
        view.repositories.map((r) => r.name),
        ['private/app'],
      );
      assert.ok(view.repositories[0].bytes > 0);
    });
  });
}
