import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import { GcLease, GcLeaseLost, GcLockedError, type LeaseTimings } from '../../src/oci/gc-lease';
import { startGcScheduler } from '../../src/oci/gc-scheduler';
import { Listing } from '../../src/oci/listing';
import { leaseNumber, paths } from '../../src/oci/paths';
import { runBerth } from '../helpers/berth-process';

/** Short enough for a test; the fence leaves the storage clock's second of resolution (S3) to spare. */
const FAST: LeaseTimings = { ttlMs: 3_000, renewMs: 200, fenceMs: 1_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LeaseStore {
  /** A driver of its own on the shared store, as another process would have. */
  driver(): StorageDriver;
  /** The environment that points a `berth gc` process at the store. */
  env(): Record<string, string>;
}

async function leaseNumbers(driver: StorageDriver): Promise<number[]> {
  return (await driver.list(paths.gcLeases).catch(() => [])).map(leaseNumber).filter((n) => n !== undefined);
}

/** Forgets every lease, so that each scenario starts from a store nobody collects. */
async function reset(driver: StorageDriver): Promise<void> {
  await driver.delete(paths.gcLeases).catch(() => undefined);
}

/**
 * The GC lease on one store shared by several drivers (processes): exclusive among racing collectors,
 * taken over once expired, given up by a holder that cannot renew or finds itself taken over.
 */
export function leaseScenarios(store: () => LeaseStore): void {
  it('of collectors racing for the lease exactly one gets it, round after round', async () => {
    await reset(store().driver());
    for (let round = 0; round < 4; round++) {
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => GcLease.acquire(store().driver(), FAST)));
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.equal(won.length, 1, `round ${round}: ${won.length} collectors hold the lease`);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof GcLockedError, String(r.reason));
      won[0].assertHeld();
      await won[0].release();
    }
    assert.deepEqual(await leaseNumbers(store().driver()), [4], 'only the newest lease is kept');
  });

  it('a lease its holder stopped renewing is taken over once expired, and not before', async () => {
    const driver = store().driver();
    await reset(driver);
    // What a collector killed while it held the lease leaves behind.
    await driver.createExclusive(paths.gcLease(7), Buffer.from(JSON.stringify({ owner: 'killed', renewals: 3 })));
    await assert.rejects(GcLease.acquire(store().driver(), FAST), /another garbage collection is running \(killed/);
    await sleep(FAST.ttlMs + 1_500);
    const lease = await GcLease.acquire(store().driver(), FAST);
    assert.equal(lease.number, 8);
    assert.deepEqual(await leaseNumbers(driver), [8]);
    await lease.release();
  });

  it('a holder whose renewals stall stops deleting before its lease can be taken over', async () => {
    await reset(store().driver());
    let stalled = false;
    const inner = store().driver();
    const stalling: StorageDriver = { ...inner, putContent: (p, d, o) => (stalled ? new Promise(() => undefined) : inner.putContent(p, d, o)) };
    const holder = await GcLease.acquire(stalling, FAST);
    stalled = true;
    const stalledAt = performance.now();
    while (performance.now() - stalledAt < FAST.ttlMs + 1_500) {
      let taker: GcLease;
      try {
        taker = await GcLease.acquire(store().driver(), FAST);
      } catch (err) {
        assert.ok(err instanceof GcLockedError, String(err));
        await sleep(100);
        continue;
      }
      assert.throws(() => holder.assertHeld(), GcLeaseLost, 'two collectors may delete at once');
      await taker.release();
      return;
    }
    assert.fail('the stalled lease was never taken over');
  });

  it('a holder that finds a newer lease stops at once', async () => {
    await reset(store().driver());
    const holder = await GcLease.acquire(store().driver(), FAST);
    await store().driver().createExclusive(paths.gcLease(holder.number + 1), Buffer.from('{}'));
    await sleep(3 * FAST.renewMs);
    assert.throws(() => holder.assertHeld(), /another collector took lease/);
    await holder.release();
    assert.ok((await leaseNumbers(store().driver())).includes(holder.number + 1), 'a lost lease is not released over the newer one');
  });

  it('two schedulers on the store never collect at the same time', async () => {
    await reset(store().driver());
    let collecting = 0;
    let most = 0;
    const results: string[] = [];
    // Each collection walks the blobs slowly, so that the schedulers' rounds overlap.
    const slowed = (inner: StorageDriver): StorageDriver => ({
      ...inner,
      async *walk(path) {
        if (path !== paths.blobsRoot) {
          yield* inner.walk(path);
          return;
        }
        most = Math.max(most, ++collecting);
        try {
          await sleep(300);
          yield* inner.walk(path);
        } finally {
          collecting--;
        }
      },
    });
    const logger = pino({ level: 'silent' });
    const stops = [0, 1].map(() => {
      const driver = slowed(store().driver());
      return startGcScheduler(driver, new Listing(driver), logger, { interval: 50, grace: 3_600_000, quietMs: 0, deleteUntagged: false, dryRun: true }, (r) => results.push(r), FAST);
    });
    await sleep(4_000);
    for (const stop of stops) stop();
    // A round under way when stopped still ends, and releases its lease.
    await sleep(2_000);
    assert.equal(most, 1, 'two collections ran at once');
    assert.ok(results.includes('ok') && results.includes('skipped'), `the schedulers did not compete: ${results.join(' ')}`);
    assert.ok(!results.includes('failed'), results.join(' '));
  });

  it('berth gc refuses while another process holds the lease, and runs once it is released', async () => {
    await reset(store().driver());
    const holder = await GcLease.acquire(store().driver(), FAST);
    const gc = () => runBerth(['gc', '--json', '--dry-run'], { env: store().env(), timeoutMs: 60_000 });
    const refused = await gc();
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /another garbage collection is running/);
    await holder.release();
    const ran = await gc();
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal((JSON.parse(ran.stdout) as { dryRun: boolean }).dryRun, true);
    assert.deepEqual(await leaseNumbers(store().driver()), [holder.number + 1]);
  });
}
