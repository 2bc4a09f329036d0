import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { MT, digestOf, randomBlob } from '../api/helpers';
import { freePort } from '../helpers/ports';
import { UpstreamClient, type UpstreamClientOptions } from '../../src/mirror/upstream-client';
import { captureLogger, collect, rejectsWith } from './helpers';
import { sendJson, startFake, type FakeServer } from './fake-upstream';

/*
 * Upstream behaviours that real registries show only sometimes: redirects of blobs to storage on
 * another host, rate limits, 5xx, connections cut or stalled mid-body, rotated tokens, and answers
 * that do not match what was asked for. Each is played by a small loopback server.
 */

const USER = 'mirror-user';
const PASSWORD = 'mirror-password-s3cr3t';
const BASIC = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const UNAUTHORIZED = { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] };

async function fake(t: TestContext, handler: Parameters<typeof startFake>[0], host?: string): Promise<FakeServer> {
  const server = await startFake(handler, host);
  t.after(() => server.close());
  return server;
}

function client(t: TestContext, url: string, extra: Partial<UpstreamClientOptions> = {}): UpstreamClient {
  const c = new UpstreamClient({ url, logger: captureLogger().logger, ...extra });
  t.after(() => c.close());
  return c;
}

/** Answers /v2/ with 200 and everything else from `routes` (path → handler), 404 otherwise. */
function registry(routes: Record<string, Parameters<typeof startFake>[0]>): Parameters<typeof startFake>[0] {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v2/') return sendJson(res, 200, {});
    const route = routes[path];
    if (route) return route(req, res);
    sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'nope' }] });
  };
}

describe('upstream client: redirects', () => {
  test('a blob redirected to storage on another host is fetched without the upstream Authorization; a same-origin redirect keeps it', async (t) => {
    const far = randomBlob(200_000);
    const near = randomBlob(1000);
    const storage = await fake(t, (req, res) => {
      if (req.url?.startsWith('/bucket/denied')) return sendJson(res, 403, { error: 'expired' });
      res.writeHead(200, { 'content-length': far.size });
      res.end(far.data);
    }, '127.0.0.2');
    const upstream = await fake(t, (req, res) => {
      if (req.headers.authorization !== BASIC) return sendJson(res, 401, UNAUTHORIZED, { 'www-authenticate': 'Basic realm="fake"' });
      if (req.url === '/v2/') return sendJson(res, 200, {});
      if (req.url === `/v2/r/blobs/${far.digest}`) {
        res.writeHead(307, { location: `${storage.url}/bucket/blob?X-Amz-Signature=presigned-secret` });
        return res.end();
      }
      if (req.url === `/v2/r/blobs/${near.digest}`) {
        res.writeHead(302, { location: '/local-storage/near' });
        return res.end();
      }
      if (req.url === '/local-storage/near') {
        res.writeHead(200, { 'content-length': near.size });
        return res.end(near.data);
      }
      res.writeHead(303, { location: `${storage.url}/bucket/denied?X-Amz-Signature=presigned-secret` });
      res.end();
    });
    const c = client(t, upstream.url, { username: USER, password: PASSWORD });

    const blob = await c.getBlob('r', far.digest);
    assert.equal(blob.size, far.size);
    assert.equal(digestOf(await collect(blob.stream)), far.digest);
    assert.equal(storage.requests.length, 1);
    assert.equal(storage.requests[0].headers.authorization, undefined);

    assert.deepEqual(await collect((await c.getBlob('r', near.digest)).stream), near.data);
    assert.equal(upstream.requests.find((r) => r.url === '/local-storage/near')?.headers.authorization, BASIC);

    // Storage refusing the presigned URL: the error names the request, not its signature.
    const denied = await rejectsWith(c.getBlob('r', randomBlob(10).digest), 'denied');
    assert.equal(denied.status, 403);
    assert.ok(!denied.message.includes('presigned-secret'), denied.message);
    assert.ok(storage.requests.every((r) => r.headers.authorization === undefined));
  });

  test('a redirect loop ends in bad-response', async (t) => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const upstream = await fake(t, registry({ [`/v2/r/blobs/${digest}`]: (_req, res) => res.writeHead(302, { location: `/v2/r/blobs/${digest}` }).end() }));
    await rejectsWith(client(t, upstream.url).getBlob('r', digest), 'bad-response');
    assert.equal(upstream.requests.filter((r) => r.url.includes('/blobs/')).length, 6);
  });
});

describe('upstream client: rate limits, outages, timeouts', () => {
  test('429 is rate-limited with Retry-After; 5xx and a refused connection are unavailable', async (t) => {
    const blob = randomBlob(10);
    const upstream = await fake(
      t,
      registry({
        '/v2/r/manifests/v1': (_req, res) => sendJson(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { 'retry-after': '7' }),
        '/v2/r/manifests/v2': (_req, res) => sendJson(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'maintenance' }] }, { 'retry-after': 'Thu, 01 Jan 2099 00:00:00 GMT' }),
        [`/v2/r/blobs/${blob.digest}`]: (_req, res) => sendJson(res, 500, {}),
      }),
    );
    const c = client(t, upstream.url);
    const limited = await rejectsWith(c.getManifest('r', 'v1'), 'rate-limited');
    assert.deepEqual([limited.status, limited.code, limited.retryAfterMs], [429, 'TOOMANYREQUESTS', 7000]);
    assert.equal((await rejectsWith(c.headManifest('r', 'v1'), 'rate-limited')).retryAfterMs, 7000);
    const down = await rejectsWith(c.getManifest('r', 'v2'), 'unavailable');
    assert.ok(down.retryAfterMs! > 365 * 86_400_000);
    await rejectsWith(c.getBlob('r', blob.digest), 'unavailable');

    const closed = await freePort();
    const refused = await rejectsWith(client(t, `http://127.0.0.1:${closed}`).ping(), 'unavailable');
    assert.match(refused.message, /ECONNREFUSED/);
  });

  test('an upstream that never answers times out as unavailable', async (t) => {
    const upstream = await fake(t, () => undefined);
    const started = Date.now();
    const err = await rejectsWith(client(t, upstream.url, { timeoutMs: 300 }).headManifest('r', 'v1'), 'unavailable');
    assert.match(err.message, /no data for 300 ms/);
    assert.ok(Date.now() - started < 5000);
  });

  test('a blob cut mid-body, or stalled mid-body, makes the stream fail rather than end', async (t) => {
    const blob = randomBlob(1024 * 1024);
    const cut = `sha256:${'c'.repeat(64)}`;
    const chunkedCut = `sha256:${'d'.repeat(64)}`;
    const stall = `sha256:${'e'.repeat(64)}`;
    const upstream = await fake(
      t,
      registry({
        [`/v2/r/blobs/${cut}`]: (_req, res) => {
          res.writeHead(200, { 'content-length': blob.size });
          res.write(blob.data.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 50));
        },
        [`/v2/r/blobs/${chunkedCut}`]: (_req, res) => {
          res.writeHead(200);
          res.write(blob.data.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 50));
        },
        [`/v2/r/blobs/${stall}`]: (_req, res) => {
          res.writeHead(200, { 'content-length': blob.size });
          res.write(blob.data.subarray(0, 100_000));
        },
      }),
    );
    const c = client(t, upstream.url, { timeoutMs: 500 });
    for (const digest of [cut, chunkedCut, stall]) {
      const got = await c.getBlob('r', digest);
      const err = await rejectsWith(collect(got.stream), 'unavailable');
      if (digest === stall) assert.match(err.message, /no data for 500 ms/);
    }
  });

  test('aborting the signal mid-blob fails the stream and closes the upstream connection', async (t) => {
    const digest = `sha256:${'f'.repeat(64)}`;
    let closed = false;
    const upstream = await fake(
      t,
      registry({
        [`/v2/r/blobs/${digest}`]: (_req, res) => {
          res.writeHead(200, { 'content-length': 10_000_000 });
          res.write(Buffer.alloc(1000));
          res.once('close', () => (closed = true));
        },
      }),
    );
    const ac = new AbortController();
    const got = await client(t, upstream.url).getBlob('r', digest, { signal: ac.signal });
    got.stream.once('data', () => ac.abort());
    await assert.rejects(collect(got.stream), (err: Error) => err.name === 'AbortError');
    for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(closed, 'the upstream saw its connection closed');
  });
});

describe('upstream client: tokens', () => {
  /** A registry whose token server issues tok-1, tok-2, ...; only tokens issued since the last rotation are accepted. */
  async function tokenRegistry(t: TestContext, tokenBody: (n: number) => Record<string, unknown>) {
    let issued = 0;
    let validFrom = 1;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: {}, layers: [] }));
    const upstream = await fake(t, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/token') {
        if (req.headers.authorization !== BASIC) return sendJson(res, 401, UNAUTHORIZED);
        issued++;
        return sendJson(res, 200, tokenBody(issued));
      }
      const n = Number(/^Bearer tok-(\d+)$/.exec(req.headers.authorization ?? '')?.[1] ?? 0);
      if (n < validFrom)
        return sendJson(res, 401, UNAUTHORIZED, { 'www-authenticate': `Bearer realm="${upstream.url}/token",service="fake",scope="repository:r:pull"` });
      if (url.pathname === '/v2/') return sendJson(res, 200, {});
      res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': manifest.length, 'docker-content-digest': digestOf(manifest) });
      res.end(manifest);
    });
    const count = (path: string) => upstream.requests.filter((r) => r.url.startsWith(path)).length;
    return { upstream, rotate: (to = issued + 1) => (validFrom = to), count };
  }

  test('a cached token the upstream refuses is replaced once; a refused fresh token is unauthorized', async (t) => {
    const { upstream, rotate, count } = await tokenRegistry(t, (n) => ({ token: `tok-${n}`, expires_in: 3600 }));
    const { logger, lines } = captureLogger();
    const c = client(t, upstream.url, { username: USER, password: PASSWORD, logger });
    await c.getManifest('r', 'v1');
    await c.getManifest('r', 'v1');
    assert.deepEqual([count('/token'), count('/v2/r/manifests')], [1, 2]);
    // The upstream restarted with another key: the cached token is refused, a new one works.
    rotate();
    await c.getManifest('r', 'v1');
    assert.deepEqual([count('/token'), count('/v2/r/manifests')], [2, 4]);
    // Every token refused: one retry, then unauthorized.
    rotate(1000);
    await rejectsWith(c.getManifest('r', 'v1'), 'unauthorized');
    assert.deepEqual([count('/token'), count('/v2/r/manifests')], [3, 6]);
    // The realm received the Basic credentials; the registry only ever saw Bearer tokens.
    assert.ok(upstream.requests.filter((r) => r.url.startsWith('/token')).every((r) => r.headers.authorization === BASIC));
    assert.ok(upstream.requests.filter((r) => r.url.startsWith('/v2/r/')).every((r) => r.headers.authorization?.startsWith('Bearer tok-')));
    assert.ok(!lines().includes('tok-') && !lines().includes(PASSWORD), lines());
  });

  test('access_token without expires_in: used for the spec default of 60 s, less a margin', async (t) => {
    const { upstream, count } = await tokenRegistry(t, (n) => ({ access_token: `tok-${n}` }));
    let offset = 0;
    const c = client(t, upstream.url, { username: USER, password: PASSWORD, now: () => Date.now() + offset });
    await c.headManifest('r', 'v1');
    offset = 53_000;
    await c.headManifest('r', 'v1');
    assert.equal(count('/token'), 1);
    offset = 55_000;
    await c.headManifest('r', 'v1');
    assert.equal(count('/token'), 2);
  });

  test('a token answer without a token is a bad response; a token server refusing the credentials is unauthorized', async (t) => {
    const { upstream } = await tokenRegistry(t, () => ({ expires_in: 60 }));
    await rejectsWith(client(t, upstream.url, { username: USER, password: PASSWORD }).getManifest('r', 'v1'), 'bad-response');
    await rejectsWith(client(t, upstream.url, { username: USER, password: 'wrong' }).getManifest('r', 'v1'), 'unauthorized');
  });
});

describe('upstream client: answers that do not match', () => {
  test('wrong digests, oversized manifests and malformed referrers are bad responses', async (t) => {
    const real = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: {}, layers: [] }));
    const other = digestOf(Buffer.from('something else'));
    const big = Buffer.alloc(5000, 0x20);
    const serve = (bytes: Buffer, headers: Record<string, string | number> = {}) => (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': MT.ociManifest, ...headers });
      res.end(bytes);
    };
    const upstream = await fake(
      t,
      registry({
        [`/v2/r/manifests/${other}`]: serve(real, { 'docker-content-digest': other }),
        '/v2/r/manifests/lying': serve(real, { 'docker-content-digest': other }),
        '/v2/r/manifests/honest': serve(real, { 'docker-content-digest': digestOf(real) }),
        '/v2/r/manifests/plain': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(real),
        '/v2/r/manifests/generic': serve(real, { 'content-type': 'application/octet-stream', 'docker-content-digest': digestOf(real), 'content-length': real.length }),
        '/v2/r/manifests/big': serve(big, { 'content-length': big.length }),
        '/v2/r/manifests/big-chunked': serve(big),
        [`/v2/r/referrers/${other}`]: (_req, res) => sendJson(res, 200, { schemaVersion: 2, manifests: [{ digest: 1 }] }),
      }),
    );
    const c = client(t, upstream.url, { manifestMaxSize: 4096 });
    await rejectsWith(c.getManifest('r', other), 'bad-response');
    await rejectsWith(c.headManifest('r', other), 'bad-response');
    await rejectsWith(c.getManifest('r', 'lying'), 'bad-response');
    assert.deepEqual(await c.getManifest('r', 'honest'), { bytes: real, digest: digestOf(real), mediaType: MT.ociManifest, size: real.length });
    // No digest header and a generic Content-Type: the digest is computed, the type read from the manifest.
    assert.deepEqual(await c.getManifest('r', 'plain'), { bytes: real, digest: digestOf(real), mediaType: MT.ociManifest, size: real.length });
    assert.deepEqual(await c.headManifest('r', 'plain'), { digest: digestOf(real), mediaType: MT.ociManifest, size: real.length });
    assert.deepEqual(await c.headManifest('r', 'generic'), { digest: digestOf(real), mediaType: MT.ociManifest, size: real.length });
    await rejectsWith(c.getManifest('r', 'big'), 'bad-response');
    await rejectsWith(c.getManifest('r', 'big-chunked'), 'bad-response');
    await rejectsWith(c.getReferrers('r', other), 'bad-response');
  });

  test('referrers pages are followed on the upstream, never to another host', async (t) => {
    const subject = digestOf(Buffer.from('subject'));
    const other = digestOf(Buffer.from('other subject'));
    const ref = (n: number) => ({ mediaType: MT.ociManifest, digest: digestOf(Buffer.from(`r${n}`)), size: n, artifactType: 'application/x-test' });
    const index = (manifests: unknown[]) => ({ schemaVersion: 2, mediaType: MT.ociIndex, manifests });
    const upstream = await fake(
      t,
      registry({
        [`/v2/r/referrers/${subject}`]: (req, res) =>
          req.url?.includes('last=')
            ? sendJson(res, 200, index([ref(3)]), { 'oci-filters-applied': 'artifactType' })
            : sendJson(res, 200, index([ref(1), ref(2)]), { link: `</v2/r/referrers/${subject}?artifactType=application%2Fx-test&last=2>; rel="next"`, 'oci-filters-applied': 'artifactType' }),
        [`/v2/r/referrers/${other}`]: (_req, res) => sendJson(res, 200, index([ref(1)]), { link: `<http://127.0.0.2:1/v2/r/referrers/${other}?last=1>; rel="next"` }),
      }),
    );
    const c = client(t, upstream.url);
    const got = await c.getReferrers('r', subject, 'application/x-test');
    assert.deepEqual(got, { supported: true, filtered: true, index: index([ref(1), ref(2), ref(3)]) });
    assert.deepEqual(
      upstream.requests.filter((r) => r.url.includes('/referrers/')).map((r) => new URL(r.url, 'http://x').searchParams.get('artifactType')),
      ['application/x-test', 'application/x-test'],
    );
    assert.ok(upstream.requests.every((r) => r.headers['user-agent'] === 'berth-mirror'));
    await rejectsWith(c.getReferrers('r', other), 'bad-response');
  });

  test('invalid names and references are refused before any request', async (t) => {
    const upstream = await fake(t, registry({}));
    const c = client(t, upstream.url);
    await assert.rejects(c.getManifest('../../etc', 'v1'), /name/i);
    await assert.rejects(c.getManifest('r', 'bad/tag'), /tag/i);
    await assert.rejects(c.getBlob('r', 'sha256:short'), /digest/i);
    assert.equal(upstream.requests.length, 0);
  });
});
