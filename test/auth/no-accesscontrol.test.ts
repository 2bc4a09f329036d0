import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authConfig, authFixture, basic, claims, getToken, pushImage, startAuthRegistry, tokenFor, USERS, type AuthFixture, type AuthRegistry } from './helpers';

// A Distribution or zot configuration brings htpasswd users and no policy: there, every authenticated user may do everything.
const FULL_ACCESS_LOG = /"msg":"no auth\.accesscontrol: every authenticated user may pull, push and delete every repository"/g;

async function status(url: string, authorization?: string, method = 'GET'): Promise<number> {
  const res = await fetch(url, { method, headers: authorization ? { authorization } : {} });
  await res.arrayBuffer();
  return res.status;
}

describe('htpasswd without accesscontrol', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  const alice = basic('alice', USERS.alice);
  const bob = basic('bob', USERS.bob);

  before(async () => {
    fx = await authFixture();
    reg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd } }));
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  test('every authenticated user may push, pull and delete anywhere; anonymous clients nothing', async () => {
    const pushed = await pushImage(reg.url, 'any/where', 'v1', alice);
    assert.equal(pushed.status, 201);
    assert.equal((await pushImage(reg.url, 'top', 'v1', bob)).status, 201);
    assert.equal(await status(`${reg.url}/v2/any/where/manifests/v1`, bob), 200);
    assert.equal(await status(`${reg.url}/v2/any/where/blobs/${pushed.blob}`, alice), 200);
    const catalog = await fetch(`${reg.url}/v2/_catalog`, { headers: { authorization: bob } });
    assert.deepEqual(((await catalog.json()) as { repositories: string[] }).repositories, ['any/where', 'top']);

    assert.equal(await status(`${reg.url}/v2/`), 401);
    assert.equal(await status(`${reg.url}/v2/any/where/manifests/v1`), 401);
    assert.equal(await status(`${reg.url}/v2/any/where/manifests/v1`, 'Basic Og=='), 401);
    assert.equal((await pushImage(reg.url, 'any/where', 'anon', undefined)).status, 401);
    assert.equal(await status(`${reg.url}/v2/any/where/blobs/${pushed.blob}`, undefined, 'DELETE'), 401);
    assert.equal(await status(`${reg.url}/v2/any/where/blobs/${pushed.blob}`, basic('alice', 'wrong'), 'DELETE'), 401);

    assert.equal(await status(`${reg.url}/v2/any/where/blobs/${pushed.blob}`, bob, 'DELETE'), 202);
    assert.equal(await status(`${reg.url}/v2/any/where/blobs/${pushed.blob}`, alice), 404);
  });

  test('the start-up log says so, once', () => {
    assert.equal(reg.logs().match(FULL_ACCESS_LOG)?.length, 1, reg.logs());
  });
});

describe('token server without accesscontrol', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;

  before(async () => {
    fx = await authFixture();
    reg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, token: { server: { keytype: 'ec' } } }));
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  test('tokens of authenticated users carry every action asked for; anonymous tokens none', async () => {
    const scope = 'repository:any/where:pull,push,delete';
    const carol = await tokenFor(reg.url, 'carol', [scope, 'registry:catalog:*']);
    assert.deepEqual(claims(carol).access, [
      { type: 'repository', name: 'any/where', actions: ['pull', 'push', 'delete'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    const bearer = `Bearer ${carol}`;
    const pushed = await pushImage(reg.url, 'any/where', 'v1', bearer);
    assert.equal(pushed.status, 201);
    assert.equal(await status(`${reg.url}/v2/any/where/manifests/v1`, bearer), 200);

    const anonymous = await getToken(reg.url, { scopes: [scope] });
    assert.equal(anonymous.status, 200);
    assert.deepEqual(claims(String(anonymous.body.token)).access, []);
    assert.equal(await status(`${reg.url}/v2/any/where/manifests/v1`, `Bearer ${String(anonymous.body.token)}`), 401);
    assert.equal((await getToken(reg.url, { user: 'carol', password: 'wrong', scopes: [scope] })).status, 401);

    assert.equal(await status(`${reg.url}/v2/any/where/blobs/${pushed.blob}`, bearer, 'DELETE'), 202);
  });

  test('the start-up log says so, once', () => {
    assert.equal(reg.logs().match(FULL_ACCESS_LOG)?.length, 1, reg.logs());
  });
});

test('an empty accesscontrol section is a policy that grants nothing, and logs nothing of full access', async () => {
  const fx = await authFixture();
  const reg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, accesscontrol: {} }));
  try {
    assert.equal((await pushImage(reg.url, 'any/where', 'v1', basic('alice', USERS.alice))).status, 403);
    assert.equal(reg.logs().match(FULL_ACCESS_LOG), null);
  } finally {
    await reg.close();
    await fx.cleanup();
  }
});
