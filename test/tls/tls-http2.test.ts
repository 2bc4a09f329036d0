import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { constants as http2constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { runBerth, type BerthProcess } from '../helpers/berth-process';
import { run } from '../helpers/exec';
import { freePort } from '../helpers/ports';
import { issue } from '../helpers/test-ca';
import { requireTools } from '../helpers/tools';
import { MT, descriptor, digestOf, ociManifest, randomBlob, repoName, type Content } from '../api/helpers';
import { h2Connect, h2Request, sessionFingerprint, type H2Response } from './h2-client';
import { eventually, httpsRequest, httpVersionsUsed } from './tls-client';
import { tlsFixture, type TlsFixture } from './tls-fixture';

let fx: TlsFixture;
const sessions: ClientHttp2Session[] = [];

before(async () => {
  fx = await tlsFixture('berth-h2-');
});
after(async () => {
  for (const s of sessions) s.destroy();
  await fx.cleanup();
});

async function session(berth: BerthProcess | string, client?: { cert: string; key: string }): Promise<ClientHttp2Session> {
  const s = await h2Connect(typeof berth === 'string' ? berth : berth.url, { ca: fx.ca.certPem, ...client });
  sessions.push(s);
  return s;
}

/** What ALPN settles on when a client offers `offered`. */
function negotiated(port: number, offered: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: fx.ca.certPem, ALPNProtocols: offered }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.end();
    });
    socket.on('error', reject);
  });
}

// Connection-specific fields are forbidden in HTTP/2 (RFC 9113 8.2.2).
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'];

function ok(res: H2Response, status: number, what: string): H2Response {
  assert.equal(res.status, status, `${what}: ${res.body.toString('utf8', 0, 300)}`);
  for (const h of HOP_BY_HOP) assert.equal(res.headers[h], undefined, `${what}: ${h} on an h2 response`);
  return res;
}

/** The path (with query) of a Location on this registry, checked to be the https URL of the port the client used. */
function locationPath(headers: IncomingHttpHeaders, port: number): string {
  const location = String(headers.location);
  assert.match(location, new RegExp(`^https://127\\.0\\.0\\.1:${port}/v2/`), 'Location built from :authority');
  const url = new URL(location);
  return url.pathname + url.search;
}

function withDigest(pathAndQuery: string, digest: string): string {
  return `${pathAndQuery}${pathAndQuery.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** Splits `data` into `n` pieces, so the body arrives as several DATA frames. */
function pieces(data: Buffer, n: number): Buffer[] {
  const size = Math.ceil(data.length / n);
  return Array.from({ length: n }, (_, i) => data.subarray(i * size, (i + 1) * size));
}

/** POST, then PUT with the whole body; `unsized`: without Content-Length (HTTP/2's way of streaming a body of unknown length). */
async function pushMonolithic(s: ClientHttp2Session, port: number, repo: string, blob: Content, unsized = false): Promise<void> {
  const start = ok(await h2Request(s, `/v2/${repo}/blobs/uploads/`, { method: 'POST' }), 202, 'POST upload');
  const put = await h2Request(s, withDigest(locationPath(start.headers, port), blob.digest), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', ...(unsized ? {} : { 'content-length': blob.size }) },
    body: pieces(blob.data, 4),
  });
  ok(put, 201, 'PUT blob');
  assert.equal(put.headers['docker-content-digest'], blob.digest);
}

async function pushManifest(s: ClientHttp2Session, port: number, repo: string, tag: string, config: Content, layers: Content[]) {
  const m = ociManifest({ config: descriptor(config, MT.ociConfig), layers: layers.map((l) => descriptor(l, MT.ociLayer)) });
  const put = await h2Request(s, `/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': MT.ociManifest }, body: m.data });
  ok(put, 201, 'PUT manifest');
  locationPath(put.headers, port);
  assert.equal(put.headers['docker-content-digest'], m.digest);
  return m;
}

/** The debug listener's port, from its ready line. */
function debugPort(berth: BerthProcess): number {
  const line = berth
    .logs()
    .split('\n')
    .find((l) => l.includes('debug listener (metrics) ready'));
  assert.ok(line, 'debug listener ready line');
  return Number(/:(\d+)"/.exec(line)![1]);
}

describe('HTTP/2 over TLS (ALPN)', () => {
  test('ALPN picks h2 for clients offering it and http/1.1 for the rest; /v2/ answers over both; logged and counted', async () => {
    const berth = await fx.start({
      env: {
        REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${await freePort()}`,
        REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: path.join(fx.work, 'tls.crt'),
        REGISTRY_HTTP_DEBUG_TLS_KEY: path.join(fx.work, 'tls.key'),
      },
    });
    assert.equal(await negotiated(berth.port, ['h2', 'http/1.1']), 'h2');
    assert.equal(await negotiated(berth.port, ['http/1.1']), 'http/1.1');

    const s = await session(berth);
    assert.equal(s.alpnProtocol, 'h2');
    const res = ok(await h2Request(s, '/v2/', { headers: { 'x-request-id': 'h2-probe-1' } }), 200, 'GET /v2/');
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(res.headers['x-request-id'], 'h2-probe-1');
    await eventually('the access log line of the h2 request', () => berth.logs().includes('"reqId":"h2-probe-1"'));
    const line = berth
      .logs()
      .split('\n')
      .find((l) => l.includes('"reqId":"h2-probe-1"'))!;
    assert.match(line, /"status":200/);
    assert.match(line, /"completed":true/);

    // The Docker engine's way: HTTP/1.1, on the same port.
    const h1 = await httpsRequest(`${berth.url}/v2/`, { ca: fx.ca.certPem });
    assert.equal(h1.status, 200);

    // The debug listener speaks h2 too, and counted the h2 request.
    const debug = await session(`https://127.0.0.1:${debugPort(berth)}`);
    const metrics = ok(await h2Request(debug, '/metrics'), 200, 'GET /metrics');
    assert.match(metrics.body.toString(), /berth_http_requests_total\{route="base",method="GET",status="200"\} [2-9]/);
  });

  test('push (POST+PUT, chunked PATCHes) and a manifest, pulled back whole, by range and by HEAD, all over h2', async () => {
    const berth = await fx.start();
    const s = await session(berth);
    const repo = repoName('h2');
    const config = randomBlob(300);
    const big = randomBlob(6 * 1024 * 1024 + 17);
    const chunked = randomBlob(700 * 1024);
    await pushMonolithic(s, berth.port, repo, config);
    await pushMonolithic(s, berth.port, repo, big);
    const unsized = randomBlob(200 * 1024);
    await pushMonolithic(s, berth.port, repo, unsized, true);

    // Chunked: the first PATCH streams without a length, the second says its range and length.
    const start = ok(await h2Request(s, `/v2/${repo}/blobs/uploads/`, { method: 'POST' }), 202, 'POST chunked');
    const cut = 300 * 1024;
    const first = ok(
      await h2Request(s, locationPath(start.headers, berth.port), { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: pieces(chunked.data.subarray(0, cut), 5) }),
      202,
      'PATCH 1',
    );
    assert.equal(first.headers.range, `0-${cut - 1}`);
    const second = ok(
      await h2Request(s, locationPath(first.headers, berth.port), {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${cut}-${chunked.size - 1}`, 'content-length': chunked.size - cut },
        body: chunked.data.subarray(cut),
      }),
      202,
      'PATCH 2',
    );
    assert.equal(second.headers.range, `0-${chunked.size - 1}`);
    const done = ok(await h2Request(s, withDigest(locationPath(second.headers, berth.port), chunked.digest), { method: 'PUT' }), 201, 'PUT closing the chunked upload');
    assert.equal(done.headers['docker-content-digest'], chunked.digest);

    const m = await pushManifest(s, berth.port, repo, 'v1', config, [big, chunked]);

    const manifest = ok(await h2Request(s, `/v2/${repo}/manifests/v1`, { headers: { accept: MT.ociManifest } }), 200, 'GET manifest');
    assert.equal(digestOf(manifest.body), m.digest);
    assert.equal(manifest.headers['content-type'], MT.ociManifest);
    const headManifest = ok(await h2Request(s, `/v2/${repo}/manifests/v1`, { method: 'HEAD' }), 200, 'HEAD manifest');
    assert.equal(headManifest.body.length, 0);
    assert.equal(Number(headManifest.headers['content-length']), m.size);

    // A reader that stops for a while: the server must wait on flow control, not buffer or fail.
    const pulled = ok(await h2Request(s, `/v2/${repo}/blobs/${big.digest}`, { pauseMs: 1000 }), 200, 'GET big blob');
    assert.equal(Number(pulled.headers['content-length']), big.size);
    assert.equal(digestOf(pulled.body), big.digest);
    assert.equal(digestOf(ok(await h2Request(s, `/v2/${repo}/blobs/${chunked.digest}`), 200, 'GET chunked blob').body), chunked.digest);
    assert.equal(digestOf(ok(await h2Request(s, `/v2/${repo}/blobs/${unsized.digest}`), 200, 'GET unsized blob').body), unsized.digest);

    const ranged = ok(await h2Request(s, `/v2/${repo}/blobs/${big.digest}`, { headers: { range: 'bytes=1000-99999' } }), 206, 'Range GET');
    assert.equal(ranged.headers['content-range'], `bytes 1000-99999/${big.size}`);
    assert.ok(ranged.body.equals(big.data.subarray(1000, 100000)), 'the range bytes');

    const head = ok(await h2Request(s, `/v2/${repo}/blobs/${big.digest}`, { method: 'HEAD' }), 200, 'HEAD blob');
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers['content-length']), big.size);
    assert.equal(head.headers['docker-content-digest'], big.digest);

    // An error answered before its announced body was read: no Connection header (Node drops it
    // with a warning on h2); the stream is reset (NO_ERROR) instead, and the client stops sending.
    const mib = Buffer.alloc(1024 * 1024);
    const refused = await h2Request(s, `/v2/${repo}/manifests/huge`, {
      method: 'PUT',
      headers: { 'content-type': MT.ociManifest, 'content-length': 80 * mib.length },
      body: Array.from({ length: 80 }, () => mib),
    });
    ok(refused, 413, 'oversized manifest');
    ok(await h2Request(s, '/v2/'), 200, 'the session goes on after the refusal');
    assert.doesNotMatch(berth.logs(), /connection header|Warning/i);
  });

  test('many concurrent streams on one session', async () => {
    const berth = await fx.start();
    const s = await session(berth);
    const repo = repoName('h2-many');
    const blobs = Array.from({ length: 8 }, () => randomBlob(128 * 1024));
    await Promise.all(blobs.map((b) => pushMonolithic(s, berth.port, repo, b)));
    const pulls = await Promise.all(
      Array.from({ length: 96 }, async (_, i) => {
        const b = blobs[i % blobs.length];
        const res = ok(await h2Request(s, `/v2/${repo}/blobs/${b.digest}`), 200, `GET ${i}`);
        return digestOf(res.body) === b.digest;
      }),
    );
    assert.equal(pulls.filter(Boolean).length, 96);
    assert.equal(s.closed, false);
  });

  test('a blob GET the client resets mid-body is logged as not completed; the session goes on', async () => {
    const berth = await fx.start();
    const s = await session(berth);
    const repo = repoName('h2-reset');
    const blob = randomBlob(8 * 1024 * 1024);
    await pushMonolithic(s, berth.port, repo, blob);
    await new Promise<void>((resolve, reject) => {
      const stream = s.request({ ':path': `/v2/${repo}/blobs/${blob.digest}`, 'x-request-id': 'h2-reset-1' });
      stream.once('data', () => stream.close(http2constants.NGHTTP2_CANCEL));
      stream.on('error', reject);
      stream.on('close', () => resolve());
    });
    await eventually('the access log line of the reset request', () => berth.logs().includes('"reqId":"h2-reset-1"'));
    const line = berth
      .logs()
      .split('\n')
      .find((l) => l.includes('"reqId":"h2-reset-1"'))!;
    assert.match(line, /"completed":false/);
    ok(await h2Request(s, '/v2/'), 200, 'the same session after the reset');
  });

  test('curl (nghttp2) pushes a body of unknown length and pulls it back over h2; --http1.1 still works', { skip: requireTools(['curl']) }, async () => {
    const berth = await fx.start();
    const repo = repoName('h2-curl');
    const blob = randomBlob(3 * 1024 * 1024);
    const ca = path.join(fx.work, 'ca.pem');
    const blobFile = path.join(fx.work, 'blob');
    await writeFile(blobFile, blob.data);
    // stdin is the blob: `-T -` reads it without knowing its length.
    const curl = (args: string[]) => run('sh', ['-c', 'exec curl "$@" < "$0"', blobFile, '-sS', '--cacert', ca, '-w', '\n%{http_version} %{http_code}', ...args]);
    const statusLine = (out: string) => out.split('\n').pop()!;

    const start = await curl(['-X', 'POST', '-D', '-', '-o', '/dev/null', `${berth.url}/v2/${repo}/blobs/uploads/`]);
    assert.equal(statusLine(start.stdout), '2 202');
    const location = /^location: (\S+)/im.exec(start.stdout)![1];
    // From stdin: curl cannot know the length, so over h2 the body comes without Content-Length.
    const put = await curl(['-T', '-', '-H', 'Content-Type: application/octet-stream', `${location}&digest=${blob.digest}`]);
    assert.equal(statusLine(put.stdout), '2 201', put.stdout);
    const pulled = await curl(['-o', path.join(fx.work, 'pulled'), `${berth.url}/v2/${repo}/blobs/${blob.digest}`]);
    assert.equal(statusLine(pulled.stdout), '2 200');
    assert.equal(digestOf(await readFile(path.join(fx.work, 'pulled'))), blob.digest);
    const h1 = await curl(['--http1.1', '-o', '/dev/null', `${berth.url}/v2/${repo}/blobs/${blob.digest}`]);
    assert.equal(statusLine(h1.stdout), '1.1 200');
    assert.deepEqual(httpVersionsUsed(berth.logs(), /^curl\//), ['1.1', '2.0']);
  });

  test('http.idletimeout: a stalled upload stream is cut even while its session is kept busy', async () => {
    const berth = await fx.start({ env: { REGISTRY_HTTP_IDLETIMEOUT: '1s' } });
    const s = await session(berth);
    const repo = repoName('h2-stall');
    const start = ok(await h2Request(s, `/v2/${repo}/blobs/uploads/`, { method: 'POST' }), 202, 'POST');
    const stalled = s.request({ ':method': 'PATCH', ':path': locationPath(start.headers, berth.port), 'content-length': 1024 * 1024 });
    stalled.on('error', () => undefined);
    stalled.write(Buffer.alloc(1000));
    const cut = new Promise<number | undefined>((resolve) => stalled.on('close', () => resolve(stalled.rstCode)));
    const began = Date.now();
    let busy = true;
    const other = (async () => {
      while (busy) {
        ok(await h2Request(s, '/v2/'), 200, 'GET beside the stalled stream');
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const rst = await Promise.race([cut, new Promise<'not cut'>((r) => setTimeout(() => r('not cut'), 6000))]);
    busy = false;
    await other;
    assert.notEqual(rst, 'not cut', 'the stalled stream is still open after 6 s');
    assert.ok(Date.now() - began >= 900, 'not before the idle timeout');
    assert.equal(s.closed, false, 'the session itself goes on');
  });

  test('http.http2.disabled: ALPN settles on http/1.1 only', async () => {
    const berth = await fx.start({ env: { REGISTRY_HTTP_HTTP2_DISABLED: 'true' } });
    assert.equal(await negotiated(berth.port, ['h2', 'http/1.1']), 'http/1.1');
    assert.equal((await httpsRequest(`${berth.url}/v2/`, { ca: fx.ca.certPem })).status, 200);
    await assert.rejects(h2Connect(berth.url, { ca: fx.ca.certPem }));
  });

  test('config check knows http.http2.disabled and its override', async () => {
    const env = { REGISTRY_STORAGE: 'inmemory' };
    const plain = await runBerth(['config', 'check'], { env });
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual((JSON.parse(plain.stdout) as { http: { http2: unknown } }).http.http2, { disabled: false });
    const off = await runBerth(['config', 'check'], { env: { ...env, REGISTRY_HTTP_HTTP2_DISABLED: 'true' } });
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual((JSON.parse(off.stdout) as { http: { http2: unknown } }).http.http2, { disabled: true });
    const bad = await runBerth(['config', 'check'], { env: { ...env, REGISTRY_HTTP_HTTP2_DISABLED: 'maybe' } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /http\.http2\.disabled \(from REGISTRY_HTTP_HTTP2_DISABLED\)/);
  });

  test('mutual TLS: an h2 client without a certificate is refused; with one it is served over h2', async () => {
    const berth = await fx.start({ mutual: true });
    // TLS 1.3 completes the client's side of the handshake before the server judges its certificate.
    await assert.rejects(async () => h2Request(await session(berth), '/v2/'), /certificate required|closed before its end/);
    const client = await fx.client('h2 client');
    const s = await session(berth, { cert: client.certPem, key: client.keyPem });
    assert.equal(s.alpnProtocol, 'h2');
    ok(await h2Request(s, '/v2/'), 200, 'GET /v2/ with a client certificate');
  });

  test('rotation: new h2 sessions get the new certificate, an open one goes on', async () => {
    const own = await tlsFixture('berth-h2-rotation-');
    try {
      const berth = await own.start();
      const old = await h2Connect(berth.url, { ca: own.ca.certPem });
      sessions.push(old);
      const before = sessionFingerprint(old);
      const next = await issue(own.ca, 'registry renewed');
      await writeFile(path.join(own.work, 'tls.key'), next.keyPem);
      await writeFile(path.join(own.work, 'tls.crt'), next.certPem);
      await eventually('the reload', () => berth.logs().includes('tls certificate reloaded'));
      const fresh = await h2Connect(berth.url, { ca: own.ca.certPem });
      sessions.push(fresh);
      assert.equal(sessionFingerprint(fresh), next.fingerprint256);
      assert.notEqual(before, next.fingerprint256);
      ok(await h2Request(fresh, '/v2/'), 200, 'new session');
      ok(await h2Request(old, '/v2/'), 200, 'the session opened before the rotation');
      assert.equal(sessionFingerprint(old), before);
    } finally {
      await own.cleanup();
    }
  });

  test('SIGTERM: an idle h2 session does not hold the drain; a stream in flight completes first', async () => {
    const berth = await fx.start();
    const idle = await session(berth);
    ok(await h2Request(idle, '/v2/'), 200, 'GET on the idle session');

    const busy = await session(berth);
    const repo = repoName('h2-drain');
    const blob = randomBlob(4 * 1024 * 1024);
    await pushMonolithic(busy, berth.port, repo, blob);
    // Paused after its first chunk: flow control holds the rest on the server when SIGTERM comes.
    const inFlight = h2Request(busy, `/v2/${repo}/blobs/${blob.digest}`, { pauseMs: 1500 });
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const code = await berth.stop('SIGTERM', 20_000);
    const elapsed = Date.now() - started;
    assert.equal(code, 0, berth.logs());
    assert.ok(elapsed < 5000, `exited after ${elapsed} ms with the default 30 s drain`);
    assert.doesNotMatch(berth.logs(), /drain timeout reached/);
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(digestOf(res.body), blob.digest);
  });
});
