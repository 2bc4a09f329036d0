/**
 * Times an upload whose PATCH reaches one replica and whose closing PUT reaches another, on one
 * store, with each `storage.uploads.hashstate` mode: off, the committing replica reads the whole
 * upload back to hash it; on, it continues the sha256 state the first replica saved. Run by hand
 * after a build (as root, for RGW):
 *
 *   node dist/bench/cross-replica-commit.js [s3|filesystem] [MiB, default 1024] [rounds, default 2]
 *
 * Prints one line per round and mode: the PATCH's time (its throughput) and the PUT's.
 */
import { HttpClient, expectStatus } from './http-client';
import { PatternBlob } from './blob-data';
import { runMain } from './run-main';
import { startBerthProcess, type BerthProcess } from '../test/helpers/berth-process';
import { filesystemStore, s3Store, type SharedStore } from '../test/replicas/stores';

const MiB = 1024 * 1024;

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const value = await work();
  return [value, Number(process.hrtime.bigint() - t) / 1e9];
}

async function pushAcross(a: HttpClient, b: HttpClient, blob: PatternBlob): Promise<{ patch: number; put: number }> {
  const post = expectStatus('POST', await a.send('POST', '/v2/bench/cross/blobs/uploads/'), 202);
  const [patched, patch] = await timed(() =>
    a.send('PATCH', post.headers.location!, { headers: { 'content-type': 'application/octet-stream' }, write: (req) => blob.writeTo(req) }),
  );
  expectStatus('PATCH', patched, 202);
  const location = new URL(patched.headers.location!, a.base);
  location.searchParams.set('digest', blob.digest);
  const [put, seconds] = await timed(() => b.send('PUT', location.pathname + location.search, { timeoutMs: 1_800_000 }));
  expectStatus('PUT', put, 201);
  return { patch, put: seconds };
}

async function main(): Promise<void> {
  const [kindName = 's3', mib = '1024', roundsArg = '2'] = process.argv.slice(2);
  const kind = kindName === 'filesystem' ? filesystemStore : kindName === 's3' ? s3Store(false) : undefined;
  const size = Number(mib) * MiB;
  const rounds = Number(roundsArg);
  if (!kind || !Number.isInteger(size) || size <= 0 || !Number.isInteger(rounds) || rounds <= 0)
    throw new Error(`usage: cross-replica-commit.js [s3|filesystem] [MiB] [rounds]; got ${process.argv.slice(2).join(' ')}`);
  const unavailable = await kind.unavailable();
  if (unavailable) throw new Error(`${kind.name}: ${unavailable}`);
  const blobs = Array.from({ length: rounds * 2 }, (_, i) => PatternBlob.create(`cross-${Date.now()}-${i}`, size));
  const store: SharedStore = await kind.create();
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternating which mode goes first spreads the machine's drift over both.
      const modes = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const [i, mode] of modes.entries()) {
        const env = { ...store.env, REGISTRY_HTTP_SECRET: 'cross-replica-bench-secret-0123456789', REGISTRY_STORAGE_UPLOADS_HASHSTATE: mode };
        const replicas: BerthProcess[] = [await startBerthProcess({ env }), await startBerthProcess({ env })];
        const [a, b] = replicas.map((r) => new HttpClient(r.url, 1));
        try {
          const { patch, put } = await pushAcross(a, b, blobs[round * 2 + i]);
          const rate = size / MiB / patch;
          console.log(`${kind.name} ${mib} MiB round ${round + 1} hashstate=${mode}: PATCH on A ${patch.toFixed(2)} s (${rate.toFixed(0)} MiB/s), PUT on B ${put.toFixed(2)} s, total ${(patch + put).toFixed(2)} s`);
        } finally {
          a.close();
          b.close();
          await Promise.all(replicas.map((r) => r.stop()));
        }
      }
    }
  } finally {
    await store.cleanup();
  }
}

runMain(main);
