import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRegistry, testConfig } from './server';
import { ACCESS_CONTROL, authConfig, authFixture, basic, startAuthRegistry, tokenFor, USERS, type AuthFixture, type AuthRegistry } from '../auth/helpers';

/** GET /v2/<name>/_berth/access with an Authorization header (or none): status and body. */
async function access(url: string, name: string, authorization?: string): Promise<{ status: number; body: { name?: string; delete?: boolean; errors?: unknown[] }; cache: string | null }> {
  const res = await fetch(`${url}/v2/${name}/_berth/access`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, body: (await res.json()) as never, cache: res.headers.get('cache-control') };
}

describe('GET /v2/<name>/_berth/access: whether the caller may delete, for the web UI', () => {
  test('no auth: delete unless deletes are off or the registry is read-only', async () => {
    for (const [storage, expected] of [
      [{}, true],
      [{ delete: { enabled: false } }, false],
      [{ maintenance: { readonly: { enabled: true } } }, false],
    ] as const) {
      const registry = await startRegistry({ config: testConfig({ storage }) });
      try {
        const r = await access(registry.url, 'any/repo');
        assert.equal(r.status, 200, JSON.stringify(storage));
        assert.deepEqual(r.body, { name: 'any/repo', delete: expected }, JSON.stringify(storage));
        assert.equal(r.cache, 'no-store');
      } finally {
        await registry.close();
      }
    }
  });

  test("a pull-through mirror's repositories take no deletes; the registry's own still do", async () => {
    const spool = await mkdtemp(path.join(os.tmpdir(), 'berth-access-'));
    // The upstream is never contacted: the answer needs only the routing.
    const registry = await startRegistry({ config: testConfig({ mirrors: [{ prefix: 'up.test', url: 'http://127.0.0.1:9' }], mirror: { spooldirectory: spool } }) });
    try {
      assert.deepEqual((await access(registry.url, 'up.test/library/nginx')).body, { name: 'up.test/library/nginx', delete: false });
      assert.deepEqual((await access(registry.url, 'local/app')).body, { name: 'local/app', delete: true });
    } finally {
      await registry.close();
      await rm(spool, { recursive: true, force: true });
    }
  });

  describe('htpasswd and token mode with an access policy', () => {
    let fx: AuthFixture;
    let basicReg: AuthRegistry;
    let tokenReg: AuthRegistry;
    before(async () => {
      fx = await authFixture();
      basicReg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, accesscontrol: ACCESS_CONTROL }));
      tokenReg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, token: { service: 'berth', issuer: 'berth' }, accesscontrol: ACCESS_CONTROL }));
    });
    after(async () => {
      await basicReg?.close();
      await tokenReg?.close();
      await fx?.cleanup();
    });

    test('Basic: the policy decides; a user who cannot pull learns nothing (403, no answer)', async () => {
      const as = (user: keyof typeof USERS) => basic(user, USERS[user]);
      assert.deepEqual((await access(basicReg.url, 'private/app', as('alice'))).body, { name: 'private/app', delete: true });
      // bob deletes in public/** (the writers group), and only pulls shared/*, as any user.
      assert.deepEqual((await access(basicReg.url, 'public/app', as('bob'))).body, { name: 'public/app', delete: true });
      assert.deepEqual((await access(basicReg.url, 'shared/app', as('bob'))).body, { name: 'shared/app', delete: false });
      assert.deepEqual((await access(basicReg.url, 'shared/app', as('carol'))).body, { name: 'shared/app', delete: false });
      const carol = await access(basicReg.url, 'private/app', as('carol'));
      assert.equal(carol.status, 403);
      assert.equal(carol.body.delete, undefined);
      assert.deepEqual((await access(basicReg.url, 'public/app')).body, { name: 'public/app', delete: false }, 'anonymous pulls public/**');
      assert.equal((await access(basicReg.url, 'private/app')).status, 401);
    });

    test('token: what the presented token grants, as the token server cuts the scope down to the policy', async () => {
      const bearer = async (user: string | undefined, scope: string) => `Bearer ${await tokenFor(tokenReg.url, user, [scope])}`;
      assert.equal((await access(tokenReg.url, 'private/app', await bearer('alice', 'repository:private/app:pull,delete'))).body.delete, true);
      // A pull token says nothing of delete, even for a user who may.
      assert.equal((await access(tokenReg.url, 'private/app', await bearer('alice', 'repository:private/app:pull'))).body.delete, false);
      assert.equal((await access(tokenReg.url, 'shared/app', await bearer('bob', 'repository:shared/app:pull,delete'))).body.delete, false);
      assert.equal((await access(tokenReg.url, 'public/app', await bearer('bob', 'repository:public/app:pull,delete'))).body.delete, true);
      assert.equal((await access(tokenReg.url, 'public/app', await bearer(undefined, 'repository:public/app:pull,delete'))).body.delete, false);
      const carol = await access(tokenReg.url, 'private/app', await bearer('carol', 'repository:private/app:pull,delete'));
      assert.equal(carol.status, 401);
      assert.equal(carol.body.delete, undefined);
    });
  });
});
