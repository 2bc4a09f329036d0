import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { libtrustKeyId, spkiOf } from '../../auth/keys';
import {
  ACCESS_CONTROL,
  authConfig,
  authFixture,
  basic,
  claims,
  getToken,
  header,
  pushImage,
  startAuthRegistry,
  tokenFor,
  USERS,
  writeHtpasswd,
  type AuthFixture,
  type AuthRegistry,
} from './helpers';
import type { Catalog } from '../api/helpers';
import { b64, rsaKey, selfSigned, sign, signHmac, type Signer } from './keys';

const GENERIC = { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] };

async function get(url: string, token?: string, extra: Record<string, string> = {}) {
  const res = await fetch(url, { headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...extra } });
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), text };
}

describe('token mode', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  const key = rsaKey();
  let signer: Signer;
  const kid = libtrustKeyId(key);
  const issuedTokens: string[] = [];

  before(async () => {
    signer = await selfSigned(key, 'berth test signer');
    fx = await authFixture();
    const keyFile = path.join(fx.dir, 'token.key');
    const certFile = path.join(fx.dir, 'token.crt');
    await writeFile(keyFile, key.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(certFile, signer.pem);
    reg = await startAuthRegistry(
      authConfig({
        htpasswd: { path: fx.htpasswd },
        token: { service: 'berth', issuer: 'berth', server: { key: keyFile, certificate: certFile } },
        accesscontrol: ACCESS_CONTROL,
        ratelimit: { maxfailures: 1000 },
      }),
    );
    const alice = await tokenFor(reg.url, 'alice', ['repository:private/app:pull,push', 'repository:public/app:pull,push']);
    issuedTokens.push(alice);
    assert.equal((await pushImage(reg.url, 'private/app', 'v1', `Bearer ${alice}`)).status, 201);
    assert.equal((await pushImage(reg.url, 'public/app', 'v1', `Bearer ${alice}`)).status, 201);
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  test('/v2/ challenges anonymous clients with Bearer (never 200), and answers 200 with any valid token', async () => {
    const r = await get(`${reg.url}/v2/`);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Bearer realm="${reg.url}/auth/token",service="berth"`);
    assert.deepEqual(JSON.parse(r.text), GENERIC);
    // docker login: an empty scope with credentials.
    const login = await getToken(reg.url, { user: 'carol' });
    assert.equal(login.status, 200);
    assert.deepEqual(claims(String(login.body.token)).access, []);
    assert.equal((await get(`${reg.url}/v2/`, String(login.body.token))).status, 200);
    assert.equal((await get(`${reg.url}/v2/`, await tokenFor(reg.url, undefined, []))).status, 200);
  });

  test('docker login with a wrong password or an unknown user fails the same way', async () => {
    const wrong = await getToken(reg.url, { user: 'alice', password: 'not-it' });
    const unknown = await getToken(reg.url, { user: 'mallory', password: 'whatever' });
    for (const r of [wrong, unknown]) {
      assert.equal(r.status, 401);
      assert.deepEqual(r.body, GENERIC);
      assert.match(String(r.headers.get('www-authenticate')), /^Basic realm=/);
    }
    assert.match(reg.logs(), /unknown user or wrong password \(user mallory\)/);
  });

  test('challenges name the scope a route needs; anonymous tokens pull public, not private', async () => {
    const r = await get(`${reg.url}/v2/private/app/manifests/v1`);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Bearer realm="${reg.url}/auth/token",service="berth",scope="repository:private/app:pull"`);
    const anon = await tokenFor(reg.url, undefined, ['repository:public/app:pull,push', 'repository:private/app:pull']);
    assert.deepEqual(claims(anon).access, [{ type: 'repository', name: 'public/app', actions: ['pull'] }]);
    assert.equal(claims(anon).sub, '');
    assert.equal((await get(`${reg.url}/v2/public/app/manifests/v1`, anon)).status, 200);
    const denied = await get(`${reg.url}/v2/private/app/manifests/v1`, anon);
    assert.equal(denied.status, 401);
    assert.match(String(denied.challenge), /error="insufficient_scope"/);
    assert.deepEqual(JSON.parse(denied.text), GENERIC);
  });

  test('granted access is the intersection of asked and allowed; asking for more is no error', async () => {
    const r = await getToken(reg.url, {
      user: 'bob',
      scopes: ['repository:public/app:pull,push,delete repository:private/app:pull', 'registry:catalog:*', 'repository:localhost:5000/public/x:pull'],
    });
    assert.equal(r.status, 200);
    assert.deepEqual(claims(String(r.body.token)).access, [{ type: 'repository', name: 'public/app', actions: ['pull', 'push', 'delete'] }]);
    const a = await getToken(reg.url, { user: 'alice', scopes: ['registry:catalog:*', 'repository:private/app:*'] });
    assert.deepEqual(claims(String(a.body.token)).access, [
      { type: 'registry', name: 'catalog', actions: ['*'] },
      { type: 'repository', name: 'private/app', actions: ['pull', 'push', 'delete'] },
    ]);
    const h = header(String(a.body.token));
    assert.equal(h.kid, kid);
    assert.deepEqual(h.x5c, [signer.x5c]);
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('the token endpoint refuses malformed scopes and other services', async () => {
    assert.equal((await getToken(reg.url, { scopes: ['repository:foo'] })).status, 400);
    assert.equal((await getToken(reg.url, { user: 'alice', service: 'another-registry' })).status, 400);
  });

  test('push needs push: bob cannot push to private, alice can; delete needs delete', async () => {
    const bob = await tokenFor(reg.url, 'bob', ['repository:private/app:pull,push']);
    assert.equal((await pushImage(reg.url, 'private/app', 'bob', `Bearer ${bob}`)).status, 401);
    const pullOnly = await tokenFor(reg.url, 'alice', ['repository:private/app:pull']);
    assert.equal((await pushImage(reg.url, 'private/app', 'v2', `Bearer ${pullOnly}`)).status, 401, 'a token for another action');
    const del = await fetch(`${reg.url}/v2/private/app/manifests/v1`, { method: 'DELETE', headers: { authorization: `Bearer ${pullOnly}` } });
    assert.equal(del.status, 401);
    assert.match(String(del.headers.get('www-authenticate')), /scope="repository:private\/app:delete",error="insufficient_scope"/);
    const otherRepo = await tokenFor(reg.url, 'alice', ['repository:public/app:pull']);
    assert.equal((await get(`${reg.url}/v2/private/app/tags/list`, otherRepo)).status, 401, 'a token for another repository');
    assert.equal((await get(`${reg.url}/v2/private/app/referrers/sha256:${'0'.repeat(64)}`, otherRepo)).status, 401);
  });

  test('a mount needs pull on its source; without it the push gets a plain session and nothing leaks', async () => {
    const { blob } = await pushImage(reg.url, 'private/secret', 'v1', `Bearer ${await tokenFor(reg.url, 'alice', ['repository:private/secret:pull,push'])}`);
    const bob = await tokenFor(reg.url, 'bob', ['repository:public/copy:pull,push', 'repository:private/secret:pull']);
    assert.deepEqual(claims(bob).access, [{ type: 'repository', name: 'public/copy', actions: ['pull', 'push'] }]);
    const mount = await fetch(`${reg.url}/v2/public/copy/blobs/uploads/?mount=${blob}&from=private/secret`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob}` },
    });
    assert.equal(mount.status, 202);
    assert.match(String(mount.headers.get('location')), /\/v2\/public\/copy\/blobs\/uploads\//);
    const noFrom = await fetch(`${reg.url}/v2/public/copy/blobs/uploads/?mount=${blob}`, { method: 'POST', headers: { authorization: `Bearer ${bob}` } });
    assert.equal(noFrom.status, 202, 'with auth on, a mount without from never searches other repositories');
    assert.equal((await get(`${reg.url}/v2/public/copy/blobs/${blob}`, bob)).status, 404);
    // The challenge for a mount also names pull on the source, so clients that take their scopes from
    // challenges ask for it.
    const challenged = await fetch(`${reg.url}/v2/public/copy/blobs/uploads/?mount=${blob}&from=private/secret`, { method: 'POST' });
    assert.equal(challenged.status, 401);
    assert.match(String(challenged.headers.get('www-authenticate')), /scope="repository:public\/copy:pull,push repository:private\/secret:pull"/);
    const alice = await tokenFor(reg.url, 'alice', ['repository:public/copy:pull,push', 'repository:private/secret:pull']);
    const ok = await fetch(`${reg.url}/v2/public/copy/blobs/uploads/?mount=${blob}&from=private/secret`, { method: 'POST', headers: { authorization: `Bearer ${alice}` } });
    assert.equal(ok.status, 201);
  });

  test('catalog: full with registry:catalog:*, else filtered to what the caller may pull', async () => {
    const list = async (token: string, q = '') => (JSON.parse((await get(`${reg.url}/v2/_catalog${q}`, token)).text) as Catalog).repositories;
    const noToken = await get(`${reg.url}/v2/_catalog`);
    assert.equal(noToken.status, 401);
    assert.match(String(noToken.challenge), /scope="registry:catalog:\*"/);
    const alice = await tokenFor(reg.url, 'alice', ['registry:catalog:*']);
    assert.deepEqual(await list(alice), ['private/app', 'private/secret', 'public/app', 'public/copy']);
    const bob = await tokenFor(reg.url, 'bob', ['registry:catalog:*']);
    assert.deepEqual(claims(bob).access, []);
    assert.deepEqual(await list(bob), ['public/app', 'public/copy']);
    assert.deepEqual(await list(await tokenFor(reg.url, undefined, ['registry:catalog:*'])), ['public/app', 'public/copy']);
    const filteredPage = await get(`${reg.url}/v2/_catalog?n=1`, bob);
    assert.deepEqual((JSON.parse(filteredPage.text) as Catalog).repositories, ['public/app']);
    assert.deepEqual(await list(bob, '?n=5&last=public/app'), ['public/copy']);
    const page = await get(`${reg.url}/v2/_catalog?n=1`, alice);
    assert.deepEqual((JSON.parse(page.text) as Catalog).repositories, ['private/app']);
  });

  test('OAuth2 POST: password grant, offline refresh token, refresh grant; a refresh token is no access token', async () => {
    const post = async (form: Record<string, string>) => {
      const res = await fetch(`${reg.url}/auth/token`, { method: 'POST', body: new URLSearchParams(form) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const r = await post({ grant_type: 'password', service: 'berth', client_id: 'test', access_type: 'offline', username: 'alice', password: USERS.alice, scope: 'repository:private/app:pull repository:public/app:pull' });
    assert.equal(r.status, 200);
    assert.equal(r.body.scope, 'repository:private/app:pull repository:public/app:pull');
    assert.equal(typeof r.body.refresh_token, 'string');
    assert.equal(typeof r.body.expires_in, 'number');
    const refresh = String(r.body.refresh_token);
    issuedTokens.push(String(r.body.access_token), refresh);
    assert.equal((await get(`${reg.url}/v2/private/app/tags/list`, String(r.body.access_token))).status, 200);
    assert.equal((await get(`${reg.url}/v2/private/app/tags/list`, refresh)).status, 401, 'refresh token used as an access token');

    const again = await post({ grant_type: 'refresh_token', service: 'berth', client_id: 'test', refresh_token: refresh, scope: 'repository:private/app:pull,push' });
    assert.equal(again.status, 200);
    assert.equal(again.body.refresh_token, refresh);
    assert.deepEqual(claims(String(again.body.access_token)).access, [{ type: 'repository', name: 'private/app', actions: ['pull', 'push'] }]);

    assert.equal((await post({ grant_type: 'password', username: 'alice', password: 'nope' })).status, 401);
    assert.equal((await post({ grant_type: 'password', username: 'alice', password: 'nope' })).body.error, 'invalid_grant');
    assert.equal((await post({ grant_type: 'refresh_token', refresh_token: String(again.body.access_token) })).status, 401);
    assert.equal((await post({ grant_type: 'client_credentials' })).body.error, 'unsupported_grant_type');
    const noOffline = await post({ grant_type: 'password', username: 'bob', password: USERS.bob });
    assert.equal(noOffline.body.refresh_token, undefined);
    // GET with offline_token=true also returns one, but never to anonymous clients.
    assert.equal(typeof (await getToken(reg.url, { user: 'bob', offline: true })).body.refresh_token, 'string');
    assert.equal((await getToken(reg.url, { offline: true })).body.refresh_token, undefined);
  });

  describe('forged and damaged tokens are refused with the same generic 401', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const good = { access: [{ type: 'repository', name: 'private/app', actions: ['pull'] }] };
    const url = () => `${reg.url}/v2/private/app/tags/list`;
    const refused = async (token: string | Promise<string>, why: string) => {
      const r = await get(url(), await token);
      assert.equal(r.status, 401, why);
      assert.deepEqual(JSON.parse(r.text), GENERIC, why);
      assert.match(String(r.challenge), /error="invalid_token"/, why);
    };

    test('a well-formed token signed with the configured key is accepted (the control)', async () => {
      assert.equal((await get(url(), await sign(key, good, { kid }))).status, 200);
    });

    test('alg none, HS256 with the public key, wrong iss/aud, expired, not yet valid, tampered, foreign key', async () => {
      const payload = b64({ iss: 'berth', aud: 'berth', sub: 'alice', exp: now() + 300, ...good });
      await refused(`${b64({ alg: 'none', typ: 'JWT', kid })}.${payload}.`, 'alg none');
      const pem = key.export({ type: 'pkcs1', format: 'pem' }) as string; // a private key never leaves; the public halves below do
      assert.ok(pem.length > 0);
      for (const secret of [signer.pem, spkiOf(key).toString('base64'), createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string])
        await refused(signHmac(secret, { iss: 'berth', aud: 'berth', sub: 'alice', exp: now() + 300, ...good }, { kid }), 'HS256 with public key');
      await refused(sign(key, { ...good, iss: 'evil' }, { kid }), 'wrong issuer');
      await refused(sign(key, { ...good, aud: 'another-registry' }, { kid }), 'token of another service');
      await refused(sign(key, { ...good, exp: now() - 61 - 5, iat: now() - 900, nbf: now() - 900 }, { kid }), 'expired');
      await refused(sign(key, { ...good, nbf: now() + 61 + 5 }, { kid }), 'not yet valid');
      const valid = await sign(key, { access: [{ type: 'repository', name: 'public/app', actions: ['pull'] }] }, { kid });
      const [h, , s] = valid.split('.');
      await refused(`${h}.${b64({ ...claims(valid), ...good })}.${s}`, 'tampered access');
      const stranger = rsaKey();
      await refused(sign(stranger, good, { kid: libtrustKeyId(stranger) }), 'unknown key');
      await refused(sign(stranger, good, { x5c: [(await selfSigned(stranger)).x5c] }), 'self-made x5c');
      await refused(sign(stranger, good, { kid }), 'our kid, their signature');
    });

    test('malformed Authorization headers', async () => {
      for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer ...', 'Bearer a.b', 'Bearer \u00e9t\u00e9', 'Bearerx', 'Digest abc', 'Bearer ' + 'A'.repeat(9000)]) {
        const r = await get(url(), undefined, { authorization: value });
        assert.ok(r.status === 401 || r.status === 431 || r.status === 400, `${value.slice(0, 20)}: ${r.status}`);
        if (r.status === 401) assert.deepEqual(JSON.parse(r.text), GENERIC, value.slice(0, 20));
      }
      // Basic credentials are not accepted by the registry in token mode: the client is sent to the token endpoint.
      const b = await get(url(), undefined, { authorization: basic('alice', USERS.alice) });
      assert.equal(b.status, 401);
      assert.match(String(b.challenge), /^Bearer realm=/);
    });

    test('the log says why, the client does not', () => {
      const logs = reg.logs();
      for (const reason of ['invalid signature', 'jwt issuer invalid', 'jwt audience invalid', 'jwt expired', 'jwt not active', 'unknown kid', 'malformed Bearer'])
        assert.ok(logs.includes(reason), `log should mention "${reason}"`);
    });
  });

  test('no password, token, refresh token or private key reaches the log', () => {
    const logs = reg.logs();
    assert.ok(logs.length > 1000);
    for (const pw of Object.values(USERS)) assert.ok(!logs.includes(pw), 'a password is in the log');
    for (const t of issuedTokens) {
      assert.ok(!logs.includes(t), 'a token is in the log');
      assert.ok(!logs.includes(t.split('.')[2]), 'a token signature is in the log');
    }
    assert.ok(!logs.includes('PRIVATE KEY'));
    assert.doesNotMatch(logs, /_state=(?!REDACTED)/);
  });
});

describe('token mode rate limiting', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  before(async () => {
    fx = await authFixture();
    reg = await startAuthRegistry(
      authConfig({ htpasswd: { path: fx.htpasswd }, token: { server: { keytype: 'ec' } }, accesscontrol: ACCESS_CONTROL, ratelimit: { maxfailures: 3, window: '1m' } }),
    );
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  test('repeated failed logins from one client are refused with 429, even with the right password', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await getToken(reg.url, { user: 'alice', password: `guess-${i}` })).status, 401);
    const blocked = await getToken(reg.url, { user: 'alice' });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    const post = await fetch(`${reg.url}/auth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: USERS.alice }) });
    assert.equal(post.status, 429);
    assert.equal(((await post.json()) as { error: string }).error, 'slow_down');
    // Anonymous tokens need no login and stay available.
    assert.equal((await getToken(reg.url, { scopes: ['repository:public/app:pull'] })).status, 200);
  });

  test('keys (EC P-256 here) are generated into storage when no key files are configured', async () => {
    const t = await tokenFor(reg.url, undefined, []);
    assert.equal(header(t).alg, 'ES256');
    assert.equal((await get(`${reg.url}/v2/`, t)).status, 200);
    assert.match(reg.logs(), /"key":"\/berth\/auth\/token.key","msg":"generated a token signing key"/);
  });
});

describe('token endpoint timing', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  before(async () => {
    fx = await authFixture();
    const file = path.join(fx.dir, 'costly');
    await writeHtpasswd(file, 9);
    reg = await startAuthRegistry(authConfig({ htpasswd: { path: file }, token: {}, accesscontrol: ACCESS_CONTROL, ratelimit: { maxfailures: 1000 } }));
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  test('a login as an unknown user takes about as long as one with a wrong password', async () => {
    const time = async (user: string) => {
      const t = process.hrtime.bigint();
      const r = await getToken(reg.url, { user, password: 'wrong-password' });
      assert.equal(r.status, 401);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    await time('alice');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 8; i++) {
      known.push(await time('alice'));
      unknown.push(await time(`nobody-${i}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const ratio = median(unknown) / median(known);
    assert.ok(median(known) > 5, `a bcrypt cost-9 check should take milliseconds: ${median(known)} ms`);
    assert.ok(ratio > 0.5 && ratio < 2, `unknown/known ratio ${ratio.toFixed(2)} (${median(unknown).toFixed(1)} / ${median(known).toFixed(1)} ms)`);
  });
});
