import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import { ACCESS_CONTROL, authConfig, authFixture, basic, pushImage, startAuthRegistry, USERS, type AuthFixture, type AuthRegistry } from './helpers';
import type { Catalog, ErrorList } from '../api/helpers';

async function req(url: string, authorization?: string, init: RequestInit = {}) {
  const res = await fetch(url, { ...init, headers: { ...(authorization ? { authorization } : {}), ...(init.headers as Record<string, string>) } });
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), retryAfter: res.headers.get('retry-after'), text };
}

describe('htpasswd mode', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  const alice = basic('alice', USERS.alice);
  const bob = basic('bob', USERS.bob);

  before(async () => {
    fx = await authFixture();
    reg = await startAuthRegistry(
      authConfig({ htpasswd: { path: fx.htpasswd, realm: 'Berth test' }, accesscontrol: ACCESS_CONTROL, ratelimit: { maxfailures: 12, window: '1m' } }),
    );
    assert.equal((await pushImage(reg.url, 'private/app', 'v1', alice)).status, 201);
    assert.equal((await pushImage(reg.url, 'public/app', 'v1', bob)).status, 201, 'bob pushes to public through his group');
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  test('/v2/ needs credentials: anonymous clients get a Basic challenge, never 200', async () => {
    const anon = await req(`${reg.url}/v2/`);
    assert.equal(anon.status, 401);
    assert.equal(anon.challenge, 'Basic realm="Berth test", charset="UTF-8"');
    assert.deepEqual(JSON.parse(anon.text), { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    assert.equal((await req(`${reg.url}/v2/`, alice)).status, 200);
    assert.equal((await req(`${reg.url}/v2/`, basic('carol', USERS.carol))).status, 200);
    assert.equal((await req(`${reg.url}/auth/token`, alice)).status, 404, 'no token endpoint in Basic mode');
  });

  test('wrong password, unknown user and malformed headers get the same 401', async () => {
    const bodies = new Set<string>();
    for (const h of [basic('alice', 'nope'), basic('mallory', 'nope'), 'Basic !!!', 'Basic ' + Buffer.from('nocolon').toString('base64'), 'Bearer abc']) {
      const r = await req(`${reg.url}/v2/public/app/tags/list`, h);
      assert.equal(r.status, 401, h);
      assert.match(String(r.challenge), /^Basic realm=/);
      bodies.add(r.text);
    }
    assert.equal(bodies.size, 1);
  });

  test('anonymous pull of a public repository works, of a private one is challenged', async () => {
    assert.equal((await req(`${reg.url}/v2/public/app/manifests/v1`)).status, 200);
    assert.equal((await req(`${reg.url}/v2/public/app/tags/list`)).status, 200);
    // containers/image answers a Basic challenge with empty credentials when it has none.
    assert.equal((await req(`${reg.url}/v2/public/app/manifests/v1`, 'Basic Og==')).status, 200);
    assert.equal((await req(`${reg.url}/v2/`, 'Basic Og==')).status, 401);
    assert.equal((await req(`${reg.url}/v2/private/app/manifests/v1`, 'Basic Og==')).status, 401);
    const priv = await req(`${reg.url}/v2/private/app/manifests/v1`);
    assert.equal(priv.status, 401);
    const push = await pushImage(reg.url, 'public/app', 'anon', undefined);
    assert.equal(push.status, 401, 'anonymous clients may not push to a public repository');
  });

  test('an authenticated user without the right gets 403 DENIED', async () => {
    const r = await req(`${reg.url}/v2/private/app/manifests/v1`, bob);
    assert.equal(r.status, 403);
    assert.equal((JSON.parse(r.text) as ErrorList).errors[0].code, 'DENIED');
    assert.equal((await pushImage(reg.url, 'private/app', 'bob', bob)).status, 403);
    assert.equal((await req(`${reg.url}/v2/private/app/manifests/v1`, alice)).status, 200);
    const del = await req(`${reg.url}/v2/shared/x/manifests/v1`, basic('carol', USERS.carol), { method: 'DELETE' });
    assert.equal(del.status, 403);
  });

  test('a mount from a repository the caller cannot pull falls back to an upload session', async () => {
    const { blob } = await pushImage(reg.url, 'private/secret', 'v1', alice);
    const r = await req(`${reg.url}/v2/public/copy/blobs/uploads/?mount=${blob}&from=private/secret`, bob, { method: 'POST' });
    assert.equal(r.status, 202);
    assert.equal((await req(`${reg.url}/v2/public/copy/blobs/${blob}`, bob)).status, 404);
    assert.equal((await req(`${reg.url}/v2/public/copy/blobs/uploads/?mount=${blob}&from=private/secret`, alice, { method: 'POST' })).status, 201);
  });

  test('catalog: full for users granted it, filtered for the others and for anonymous clients, whom the policy lets pull the public ones', async () => {
    const list = async (h?: string) => (JSON.parse((await req(`${reg.url}/v2/_catalog`, h)).text) as Catalog).repositories;
    assert.deepEqual(await list(alice), ['private/app', 'private/secret', 'public/app', 'public/copy']);
    assert.deepEqual(await list(bob), ['public/app', 'public/copy']);
    // As in token mode: what anonymous clients may pull, so that a browser without an account finds it.
    assert.deepEqual(await list(), ['public/app', 'public/copy']);
    // `/v2/` itself still challenges them: docker login must not accept any password.
    assert.equal((await req(`${reg.url}/v2/`)).status, 401);
  });

  test('catalog: challenged for anonymous clients where the policy grants them nothing', async () => {
    const closed = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd, realm: 'Berth test' }, accesscontrol: { repositories: { 'private/**': { policies: [{ users: ['alice'], actions: ['pull'] }] } } } }));
    const open = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd, realm: 'Berth test' } }));
    try {
      for (const r of [closed, open]) {
        const res = await req(`${r.url}/v2/_catalog`);
        assert.equal(res.status, 401);
        assert.match(res.challenge ?? '', /^Basic /);
      }
    } finally {
      await closed.close();
      await open.close();
    }
  });

  test('a user added to the file can log in at once', async () => {
    assert.equal((await req(`${reg.url}/v2/`, basic('dave', 'dave-pw'))).status, 401);
    await appendFile(fx.htpasswd, `dave:${await bcrypt.hash('dave-pw', 4)}\n`);
    assert.equal((await req(`${reg.url}/v2/`, basic('dave', 'dave-pw'))).status, 200);
  });

  test('repeated failures from one client are refused with 429 and Retry-After; the log has reasons, not passwords', async () => {
    let status = 0;
    for (let i = 0; i < 20 && status !== 429; i++) status = (await req(`${reg.url}/v2/`, basic('alice', `guess-${i}`))).status;
    assert.equal(status, 429);
    const blocked = await req(`${reg.url}/v2/`, alice);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.retryAfter) > 0 && Number(blocked.retryAfter) <= 60);
    assert.equal((JSON.parse(blocked.text) as ErrorList).errors[0].code, 'TOOMANYREQUESTS');
    const logs = reg.logs();
    assert.match(logs, /unknown user or wrong password/);
    assert.match(logs, /malformed or non-Basic authorization header/);
    for (const pw of [...Object.values(USERS), 'guess-0', 'dave-pw']) assert.ok(!logs.includes(pw), `password ${pw} in the log`);
    assert.ok(!logs.includes(alice.slice(6)), 'credentials in the log');
  });
});
