import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseChallenges } from '../../src/mirror/challenge';
import { schemeOf } from '../../src/mirror/upstream-auth';
import { parseRetryAfter } from '../../src/mirror/upstream-errors';
import { TokenCache, usableUntil } from '../../src/mirror/token-cache';

describe('WWW-Authenticate parsing', () => {
  test('Docker Hub, GHCR and Distribution challenges', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } },
    ]);
    assert.deepEqual(parseChallenges('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  });

  test('quoted values with commas, escapes, odd case and spacing, unquoted tokens', () => {
    assert.deepEqual(
      parseChallenges('BEARER  Realm = "https://a.example/token?x=1,2" , scope="repository:a/b:pull,push",error=insufficient_scope, service="s \\"q\\""'),
      [{ scheme: 'bearer', params: { realm: 'https://a.example/token?x=1,2', scope: 'repository:a/b:pull,push', error: 'insufficient_scope', service: 's "q"' } }],
    );
  });

  test('several challenges in one header and across headers, token68 and bare schemes', () => {
    assert.deepEqual(parseChallenges('Negotiate abc+/==, Basic realm="r", Bearer realm="https://t/", service=svc'), [
      { scheme: 'negotiate', params: {}, token68: 'abc+/==' },
      { scheme: 'basic', params: { realm: 'r' } },
      { scheme: 'bearer', params: { realm: 'https://t/', service: 'svc' } },
    ]);
    assert.deepEqual(parseChallenges(['Basic realm="r"', 'Bearer realm="https://t/"', 'Mutual']), [
      { scheme: 'basic', params: { realm: 'r' } },
      { scheme: 'bearer', params: { realm: 'https://t/' } },
      { scheme: 'mutual', params: {} },
    ]);
  });

  test('junk neither throws nor hangs', () => {
    for (const junk of ['', ',,,', '=', '"unterminated', 'Bearer realm="open', 'Bearer ,,realm=x,,', '@@@ Basic realm=r', 'Bearer realm=', 'Bearer __proto__="x"']) {
      const out = parseChallenges(junk);
      assert.ok(Array.isArray(out), junk);
    }
    assert.deepEqual(parseChallenges('Bearer ,,realm=x,,'), [{ scheme: 'bearer', params: { realm: 'x' } }]);
    assert.equal(Object.getPrototypeOf(parseChallenges('Bearer __proto__="x"')[0].params), Object.prototype);
  });

  test('Bearer wins over Basic; a relative realm resolves against the upstream; no usable scheme is undefined', () => {
    const base = new URL('https://registry.example:5000/');
    assert.deepEqual(schemeOf(parseChallenges('Basic realm="r", Bearer realm="/auth/token",service="berth"'), base), {
      scheme: 'bearer',
      realm: new URL('https://registry.example:5000/auth/token'),
      service: 'berth',
    });
    assert.deepEqual(schemeOf(parseChallenges('Basic realm="r"'), base), { scheme: 'basic' });
    assert.equal(schemeOf(parseChallenges('Negotiate abc'), base), undefined);
    assert.equal(schemeOf(parseChallenges('Bearer realm="file:///etc/passwd"'), base), undefined);
  });
});

describe('Retry-After and token lifetimes', () => {
  test('Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-05T06:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Sat, 05 Dec 2026 06:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sat, 05 Dec 2026 05:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('a token is used until shortly before it expires, then fetched again', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    assert.equal(usableUntil(0, 60), 54_000);
    assert.equal(usableUntil(0, 3600), 3_590_000);
    cache.set('k', 't1', 60);
    now += 53_999;
    assert.equal(cache.get('k'), 't1');
    now += 1;
    assert.equal(cache.get('k'), undefined);
    cache.set('k', 't2', 60);
    cache.invalidate('k', 'other');
    assert.equal(cache.get('k'), 't2');
    cache.invalidate('k', 't2');
    assert.equal(cache.get('k'), undefined);
  });
});
