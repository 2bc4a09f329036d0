import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authConfig, authFixture, startAuthRegistry, USERS, type AuthFixture, type AuthRegistry } from '../auth/helpers';
import type { ErrorList } from './helpers';
import { rawRequest, startRegistry, type TestRegistry } from './server';

const json = <T>(body: Buffer): T => JSON.parse(body.toString('utf8')) as T;

/** The routes outside /v2 (probes, the token endpoint, unknown paths) share the /v2 dispatcher. */
describe('the HTTP edge outside /v2', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg.close());

  it('an unknown path is the same 404 JSON error as an unknown /v2 route', async () => {
    for (const path of ['/nope', '/', '/v2/x/unknown', '/healthzz', '/auth/token']) {
      const res = await rawRequest(reg.url, { method: 'GET', path: `${path}?a=b` });
      assert.equal(res.status, 404, path);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
      assert.deepEqual(JSON.parse(res.body.toString('utf8')), { errors: [{ code: 'UNSUPPORTED', message: 'no such endpoint', detail: { path } }] });
    }
  });

  it('probes answer GET and HEAD, also with a trailing slash or a query', async () => {
    for (const path of ['/healthz', '/healthz/', '/healthz?verbose=1', '/readyz']) {
      const get = await rawRequest(reg.url, { method: 'GET', path });
      assert.equal(get.status, 200, path);
      assert.equal(get.headers['cache-control'], 'no-store');
      assert.equal(get.headers['content-type'], 'application/json; charset=utf-8');
      const head = await rawRequest(reg.url, { method: 'HEAD', path });
      assert.equal(head.status, 200, path);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], get.headers['content-length']);
    }
  });

  it('a probe asked with another method is 405 with Allow, as a /v2 route is', async () => {
    const res = await rawRequest(reg.url, { method: 'POST', path: '/healthz', headers: { 'Content-Length': '0' } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD');
    assert.equal(json<ErrorList>(res.body).errors[0].code, 'UNSUPPORTED');
  });
});

describe('the token endpoint on the edge dispatcher', () => {
  let fx: AuthFixture;
  let reg: AuthRegistry;
  before(async () => {
    fx = await authFixture();
    reg = await startAuthRegistry(authConfig({ htpasswd: { path: fx.htpasswd }, token: { service: 'berth', issuer: 'berth' } }));
  });
  after(async () => {
    await reg?.close();
    await fx?.cleanup();
  });

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

  it('takes the OAuth2 form on POST, at the token path with or without a trailing slash', async () => {
    for (const path of ['/auth/token', '/auth/token/']) {
      const res = await rawRequest(reg.url, {
        method: 'POST',
        path,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        chunks: [Buffer.from(form({ grant_type: 'password', service: 'berth', username: 'alice', password: USERS.alice }))],
      });
      assert.equal(res.status, 200, path);
      assert.equal(typeof json<{ access_token?: unknown }>(res.body).access_token, 'string');
    }
  });

  it('a POST whose body is not a form has no fields (unsupported grant), never a crash', async () => {
    const res = await rawRequest(reg.url, {
      method: 'POST',
      path: '/auth/token',
      headers: { 'Content-Type': 'application/json' },
      chunks: [Buffer.from(JSON.stringify({ grant_type: 'password', username: 'alice', password: USERS.alice }))],
    });
    assert.equal(res.status, 400);
    assert.equal(json<{ error?: unknown }>(res.body).error, 'unsupported_grant_type');
  });

  it('a POST body over 16 KiB is refused with 413 and a message naming the limit', async () => {
    const res = await rawRequest(reg.url, {
      method: 'POST',
      path: '/auth/token',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      chunks: [Buffer.from(form({ grant_type: 'password', username: 'alice', password: 'x'.repeat(20_000) }))],
    });
    assert.equal(res.status, 413);
    const error = json<ErrorList>(res.body).errors[0];
    assert.equal(error.code, 'SIZE_INVALID');
    assert.match(error.message, /16384 bytes/);
    assert.deepEqual(error.detail, { limit: 16384 });
  });

  it('the token path with another method is 405 with Allow', async () => {
    const res = await rawRequest(reg.url, { method: 'PUT', path: '/auth/token', headers: { 'Content-Length': '0' } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, HEAD, POST');
  });
});
