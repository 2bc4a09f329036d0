import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy';

interface Backend {
  url: string;
  server: http.Server;
  handler: (i: number, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

/** A backend that reports what it received: its index, the request's headers and the body's digest. */
const echo = async (i: number, req: IncomingMessage, res: ServerResponse) => {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of req) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const body = JSON.stringify({ backend: i, headers: req.headers, size, digest: hash.digest('hex') });
  res.writeHead(200, { 'content-type': 'application/json', 'x-backend': String(i) });
  res.end(body);
};

async function startBackend(i: number): Promise<Backend> {
  const backend = { handler: echo } as Backend;
  backend.server = http.createServer((req, res) => void backend.handler(i, req, res));
  await new Promise<void>((resolve) => backend.server.listen(0, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${(backend.server.address() as AddressInfo).port}`;
  return backend;
}

describe('round-robin test proxy', () => {
  let backends: Backend[] = [];
  let proxy: RoundRobinProxy;

  before(async () => {
    backends = [await startBackend(0), await startBackend(1)];
    proxy = await startRoundRobinProxy(backends.map((b) => b.url));
  });
  after(async () => {
    await proxy?.close();
    for (const b of backends) {
      b.server.closeAllConnections();
      await new Promise((r) => b.server.close(r));
    }
  });

  test('sends each request to the next backend, keeping Host and adding X-Forwarded-*', async () => {
    proxy.reset();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${proxy.url}/v2/x?i=${i}`, { headers: { 'X-Forwarded-For': '10.0.0.9' } });
      const got = (await res.json()) as { backend: number; headers: Record<string, string> };
      seen.push(got.backend);
      assert.equal(res.headers.get('x-backend'), String(got.backend));
      assert.equal(got.headers.host, proxy.host);
      assert.equal(got.headers['x-forwarded-host'], proxy.host);
      assert.equal(got.headers['x-forwarded-proto'], 'http');
      assert.equal(got.headers['x-forwarded-for'], '10.0.0.9, 127.0.0.1');
    }
    assert.deepEqual(seen, [0, 1, 0, 1, 0]);
    assert.deepEqual(proxy.counts(), [3, 2]);
    assert.deepEqual(
      proxy.requests().map((r) => `${r.backend} ${r.method} ${r.url} ${r.status}`),
      [0, 1, 2, 3, 4].map((i) => `${i % 2} GET /v2/x?i=${i} 200`),
    );
  });

  test('streams a chunked request body of unknown length through whole', async () => {
    const chunk = randomBytes(1 << 20);
    const hash = createHash('sha256');
    for (let i = 0; i < 24; i++) hash.update(chunk);
    const res = await fetch(`${proxy.url}/upload`, {
      method: 'PATCH',
      body: Readable.toWeb(Readable.from(Array.from({ length: 24 }, () => chunk))) as ReadableStream<Uint8Array>,
      duplex: 'half',
    });
    const got = (await res.json()) as { size: number; digest: string; headers: Record<string, string> };
    assert.equal(got.size, 24 << 20);
    assert.equal(got.digest, hash.digest('hex'));
    assert.equal(got.headers['transfer-encoding'], 'chunked');
  });

  test('a request without a body reaches the backend with Content-Length 0', async () => {
    const res = await fetch(`${proxy.url}/v2/x/blobs/uploads/`, { method: 'POST' });
    const got = (await res.json()) as { size: number; headers: Record<string, string> };
    assert.equal(got.size, 0);
    assert.equal(got.headers['content-length'], '0');
    assert.equal(got.headers['transfer-encoding'], undefined);
  });

  test('holds the sender back while the backend does not read (no buffering)', async () => {
    const chunk = randomBytes(1 << 20);
    const TOTAL = 96;
    let produced = 0;
    let producedWhileStalled = -1;
    const saved = backends.map((b) => b.handler);
    for (const b of backends)
      b.handler = async (i, req, res) => {
        await sleep(500);
        producedWhileStalled = produced;
        await echo(i, req, res);
      };
    try {
      async function* body() {
        for (let i = 0; i < TOTAL; i++) {
          produced++;
          yield chunk;
        }
      }
      const res = await fetch(`${proxy.url}/slow`, {
        method: 'PUT',
        body: Readable.toWeb(Readable.from(body())) as ReadableStream<Uint8Array>,
        duplex: 'half',
      });
      const got = (await res.json()) as { size: number };
      assert.equal(got.size, TOTAL << 20);
      // Only socket buffers' worth may be in flight while nobody reads: far less than the body.
      assert.ok(producedWhileStalled >= 0 && producedWhileStalled < 48, `${producedWhileStalled} MiB sent before the backend read anything`);
    } finally {
      backends.forEach((b, i) => (b.handler = saved[i]));
    }
  });

  test('answers 502 when a backend is down, and the next request goes to the other', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise((r) => dead.close(r));
    const p = await startRoundRobinProxy([deadUrl, backends[1].url]);
    try {
      const first = await fetch(`${p.url}/a`);
      assert.equal(first.status, 502);
      assert.match(await first.text(), /backend 0 failed/);
      const second = await fetch(`${p.url}/b`);
      assert.equal(second.status, 200);
      assert.equal(((await second.json()) as { backend: number }).backend, 1);
      assert.deepEqual(p.counts(), [1, 1]);
    } finally {
      await p.close();
    }
  });

  test('close() ends idle keep-alive connections instead of waiting for them', async () => {
    const p = await startRoundRobinProxy(backends.map((b) => b.url));
    const agent = new http.Agent({ keepAlive: true });
    try {
      await new Promise<void>((resolve, reject) =>
        http.get(`${p.url}/x`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
      );
      const started = Date.now();
      await p.close();
      assert.ok(Date.now() - started < 2_000);
    } finally {
      agent.destroy();
    }
  });
});
