import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { describePeaks, MAX_OFF_HEAP_RSS_GROWTH, watchLiveMemory } from '../helpers/memory-watch';
import { assertStoreConsistent } from '../helpers/store-check';
import { createFilesystemDriver } from '../../storage-drivers';
import { SPOOL_CHUNK } from '../../src/mirror/spool-reader';
import { sendJson, startFake, type FakeServer } from './fake-upstream';
import { generatedBlob, type GeneratedBlob } from './generated-blob';

/*
 * Many clients pulling one cold blob through the mirror at once, over HTTP: one upstream fetch,
 * every client gets every byte, and what the registry holds does not grow with the blob.
 */

const MiB = 1024 * 1024;
const PREFIX = 'up.test';
const UPSTREAM_REPO = 'library/big';
const NAME = `${PREFIX}/${UPSTREAM_REPO}`;
const SIZE = 200 * MiB;
/** Brings the process to its working set under this load before the watch starts. */
const WARM_UP_SIZE = 24 * MiB;
const CLIENTS = 50;
/** Clients that hash what they get; the others only count it (hashing 10 GiB would dominate the run). */
const HASHING_CLIENTS = 3;
/**
 * Clients that stop reading after their first bytes until the upstream has sent the whole blob:
 * the registry must stop sending to them (backpressure) rather than queue the blob in their
 * responses, and go on fetching for the others meanwhile.
 */
const PAUSING_CLIENTS = 5;
/**
 * About two spool chunks per client, whatever the blob's size, and slack for the HTTP layers on
 * both sides (the clients run in this process too). Holding the blob would take 200 MiB.
 */
const MAX_LIVE_GROWTH = CLIENTS * 2 * SPOOL_CHUNK + 24 * MiB;

let work = '';
let upstream: FakeServer | undefined;
let berth: TestRegistry | undefined;
const blobs = new Map<string, GeneratedBlob>();
/** By digest: the upstream's sending of the blob, settled once it sent the last byte (or failed). */
const sending = new Map<string, Promise<void>>();

/** Answers `/v2/` anonymously, and HEAD and GET of the generated blobs, their bytes made as they are sent. */
function serveBlobs(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/v2/') return sendJson(res, 200, {});
  const m = new RegExp(`^/v2/${UPSTREAM_REPO}/blobs/(sha256:[0-9a-f]{64})$`).exec(req.url ?? '');
  const blob = m ? blobs.get(m[1]) : undefined;
  if (!blob) return sendJson(res, 404, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.size, 'docker-content-digest': blob.digest.value });
  if (req.method === 'HEAD') return void res.end();
  sending.set(blob.digest.value, pipeline(blob.stream(), res).catch(() => undefined));
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-cold-flight-'));
  for (const b of [generatedBlob(WARM_UP_SIZE), generatedBlob(SIZE)]) blobs.set(b.digest.value, b);
  upstream = await startFake(serveBlobs);
  berth = await startRegistry({
    driver: createFilesystemDriver({ rootDirectory: path.join(work, 'store') }),
    config: testConfig({ mirrors: [{ prefix: PREFIX, url: upstream.url }], mirror: { spooldirectory: path.join(work, 'spool') } }),
  });
});

after(async () => {
  await berth?.close();
  await upstream?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Pulled {
  status: number;
  contentLength: number;
  bytes: number;
  complete: boolean;
  hex?: string;
}

/** One GET of the blob on its own connection; `hash` digests what arrives, `pause` stops reading after the first bytes until the upstream sent them all. */
function pull(blob: GeneratedBlob, opts: { hash?: boolean; pause?: boolean } = {}): Promise<Pulled> {
  return new Promise((resolve, reject) => {
    http
      .get(`${berth!.url}/v2/${NAME}/blobs/${blob.digest.value}`, { agent: false }, (res) => {
        const h = opts.hash ? createHash('sha256') : undefined;
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          if (bytes === 0 && opts.pause) {
            res.pause();
            void (sending.get(blob.digest.value) ?? Promise.resolve()).then(() => res.resume());
          }
          bytes += c.length;
          h?.update(c);
        });
        // 'close' comes after the end, and after a cut or an error too (then `complete` is false).
        res.once('close', () =>
          resolve({ status: res.statusCode ?? 0, contentLength: Number(res.headers['content-length']), bytes, complete: res.complete, hex: h?.digest('hex') }),
        );
        res.on('error', () => undefined);
      })
      .once('error', reject);
  });
}

/** CLIENTS pulls of the blob at once, and the checks every one of them must pass. */
async function pullAtOnce(blob: GeneratedBlob): Promise<void> {
  const pulled = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => pull(blob, { hash: i < HASHING_CLIENTS, pause: i >= CLIENTS - PAUSING_CLIENTS })),
  );
  for (const [i, p] of pulled.entries()) {
    assert.equal(p.status, 200, `client ${i}`);
    assert.equal(p.contentLength, blob.size, `client ${i}: Content-Length`);
    assert.ok(p.complete && p.bytes === blob.size, `client ${i} got ${p.bytes} of ${blob.size} bytes (complete: ${p.complete})`);
    if (p.hex !== undefined) assert.equal(p.hex, blob.digest.hex, `client ${i}: the bytes' digest`);
  }
}

const upstreamGets = (blob: GeneratedBlob) => upstream!.requests.filter((r) => r.method === 'GET' && r.url.endsWith(blob.digest.value)).length;

// 30-45 s here with other suites running; 80-90 s on a machine three times oversubscribed.
describe('a cold blob pulled by many clients at once through the mirror', { timeout: 180_000 }, () => {
  test(`${CLIENTS} concurrent GETs of a cold ${SIZE / MiB} MiB blob: one upstream GET, every client gets every byte, memory flat`, async (t) => {
    const [warmUp, big] = [...blobs.values()];
    await pullAtOnce(warmUp);
    assert.equal(upstreamGets(warmUp), 1);

    // Each sample of live memory costs two full collections (tens of ms here, where the HTTP work
    // makes garbage fast): twice a second is enough over a run of 20 s or more.
    const watch = watchLiveMemory({ liveEveryMs: 500, rssEveryMs: 20 });
    const started = performance.now();
    await pullAtOnce(big);
    const seconds = (performance.now() - started) / 1000;
    const peaks = watch.stop();
    t.diagnostic(`${CLIENTS} clients x ${SIZE / MiB} MiB over HTTP: ${seconds.toFixed(1)} s, ${describePeaks(peaks)}`);
    assert.equal(upstreamGets(big), 1, 'one upstream GET for all the clients');
    assert.ok(peaks.samples >= 5, `only ${peaks.samples} samples of live memory`);
    assert.ok(peaks.live < MAX_LIVE_GROWTH, `live memory grew by ${(peaks.live / MiB).toFixed(1)} MiB`);
    assert.ok(peaks.offHeapRss < MAX_OFF_HEAP_RSS_GROWTH, `RSS outside the heap grew by ${(peaks.offHeapRss / MiB).toFixed(1)} MiB`);

    assert.equal((await berth!.app.registry.blobs.stat(NAME, big.digest)).size, SIZE);
    const head = await fetch(`${berth!.url}/v2/${NAME}/blobs/${big.digest.value}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), SIZE);
    assert.equal(upstreamGets(big), 1, 'the cached blob needs no upstream GET');
    await assertStoreConsistent(path.join(work, 'store'));
  });
});
