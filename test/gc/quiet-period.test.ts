import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { GarbageCollector, type GcReport } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { paths } from '../../src/oci/paths';
import { readSweepState, writeSweepState } from '../../src/oci/gc-sweep-state';
import { startRegistry, testConfig } from '../api/server';
import { assertStoreConsistent } from '../helpers/store-check';
import { imageManifest, pushMonolithic, randomBlob, sha256 } from '../durability/push-client';
import { parseDigest } from '../../src/oci/digest';
import { assertCandidate, assertPushOutcome, orphanedLayer } from './race-scenarios';
import { age } from './age';

/** Long enough that the push below lands well within half of it on a loaded machine. */
const QUIET_MS = 8_000;

/** Long enough for a sweep that does not wait to re-read and start deleting; well within half of QUIET_MS. */
const HOLD_MS = 1_500;

/** The registry's driver: counts reads of the sweep state, and holds the write of one path until told. */
function counted(inner: StorageDriver) {
  const counter = { reads: 0 };
  let held: { path: string; until: Promise<unknown> } | undefined;
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  driver.getContent = (path) => {
    if (path === paths.gcSweepState) counter.reads++;
    return inner.getContent(path);
  };
  driver.putContent = async (path, data, opts) => {
    if (path === held?.path) await held.until;
    return inner.putContent(path, data, opts);
  };
  return { driver, counter, holdUntil: (path: string, until: Promise<unknown>) => (held = { path, until }) };
}

/** The collector's driver: paused before it announces a sweep, and at its first delete of blob data. */
function collectorGates(inner: StorageDriver) {
  let atAnnounce!: () => void;
  let announce!: () => void;
  let atDelete!: () => void;
  let letDelete!: () => void;
  const beforeAnnouncing = new Promise<void>((r) => (atAnnounce = r));
  const announcing = new Promise<void>((r) => (announce = r));
  const deleting = new Promise<void>((r) => (atDelete = r));
  const deletes = new Promise<void>((r) => (letDelete = r));
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  driver.putContent = async (path, data, opts) => {
    if (path === paths.gcSweepState && (JSON.parse(Buffer.from(data).toString()) as { sweeping?: boolean }).sweeping) {
      atAnnounce();
      await announcing;
    }
    return inner.putContent(path, data, opts);
  };
  driver.delete = async (path) => {
    if (path.includes('/blobs/')) {
      atDelete();
      await deletes;
    }
    return inner.delete(path);
  };
  return { driver, beforeAnnouncing, announce, deleting, letDelete };
}

/** Resolves once the announcement of a sweep is stored (the collector's own write, seen in storage). */
async function announced(driver: StorageDriver): Promise<void> {
  while (!(await readSweepState(driver)).sweeping) await new Promise((r) => setTimeout(r, 5));
}

/*
 * The interleaving the quiet period exists for (docs/architecture.md, "Garbage collection"): a push
 * whose first look at the sweep state came before a sweep announced itself, and whose links land
 * after the announcement, skips its second look. Only the sweeper's wait keeps its re-read after
 * those links, so that it finds them and keeps the orphaned layer the push reuses.
 */
describe('a collection’s quiet period', { timeout: 120_000 }, () => {
  const roots: string[] = [];
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  it('a manifest PUT that reuses an orphaned layer right after a sweep announced it clears on one early look, and the sweep keeps the layer', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-quiet-'));
    roots.push(root);
    const collectorSide = collectorGates(createFilesystemDriver({ rootDirectory: root }));
    const registrySide = counted(createFilesystemDriver({ rootDirectory: root }));
    const registry = await startRegistry({ driver: registrySide.driver, config: testConfig({ storage: { maintenance: { gc: { quietperiod: QUIET_MS } } } }) });
    try {
      const base = registry.url;
      const layer = await orphanedLayer(base);
      const configBlob = randomBlob(100, 200);
      const configDigest = await pushMonolithic(base, 'race/old', configBlob);
      assert.equal((await readSweepState(collectorSide.driver)).quietMs, QUIET_MS, 'the first write promised the configured period');
      await age(root);

      const collecting: Promise<GcReport> = new GarbageCollector(collectorSide.driver, new Listing(collectorSide.driver)).collect({ grace: 3_600_000, deleteUntagged: false, dryRun: false, quietMs: 300 });
      await collectorSide.beforeAnnouncing;
      await assertCandidate(collectorSide.driver, layer);
      // The registry's last look, just before the announcement: a blob commit reads the state.
      await pushMonolithic(base, 'race/other', randomBlob(10, 20));
      collectorSide.announce();
      await announced(createFilesystemDriver({ rootDirectory: root }));
      registrySide.counter.reads = 0;
      // The PUT's revision link is held until the sweep starts deleting (it must not, within the
      // quiet period) or HOLD_MS have passed, well within half the period: a sweep that did not wait
      // would have re-read the links without it, and delete the layer once let go.
      const manifest = imageManifest({ digest: configDigest, size: configBlob.length }, [{ digest: layer.digest, size: layer.bytes.length }]);
      registrySide.holdUntil(paths.revisionLink('race/old', parseDigest(sha256(manifest))), Promise.race([collectorSide.deleting, new Promise((r) => setTimeout(r, HOLD_MS))]));
      const res = await fetch(`${base}/v2/race/old/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
      collectorSide.letDelete();
      assert.equal(res.status, 201);
      assert.equal(registrySide.counter.reads, 0, 'the PUT looked at the sweep state again: it did not take the shortcut this test is about');

      const report = await collecting;
      assert.ok(!report.blobs.some((b) => b.digest === layer.digest), 'the sweep deleted the layer an acknowledged push references');
      assert.ok(report.rescued >= 1, JSON.stringify(report));
      await assertPushOutcome(base, { repo: 'race/old', status: res.status, blobs: [configDigest, layer.digest] });
      await assertStoreConsistent(root, { collected: true });
      // The sweep promised its own setting for the next one.
      const state = await readSweepState(collectorSide.driver);
      assert.deepEqual([state.sweeping, state.quietMs], [false, 300]);
    } finally {
      await registry.close();
    }
  });

  it('the default is 15 s, promised on the first write to a store and waited by the first sweep', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-quiet-'));
    roots.push(root);
    const driver = createFilesystemDriver({ rootDirectory: root });
    const config = testConfig();
    // testConfig shortens it for every other test; the schema's default is what operators get.
    const defaults = testConfig({ storage: { maintenance: { gc: { quietperiod: undefined } } } });
    assert.equal(defaults.storage.maintenance.gc.quietperiod, 15_000);
    assert.equal(config.storage.maintenance.gc.quietperiod, 300);
    await writeSweepState(driver, { generation: 4, sweeping: false, heartbeat: 0, quietMs: 1_000 });
    const registry = await startRegistry({ driver, config });
    try {
      await pushMonolithic(registry.url, 'quiet/one', randomBlob(10, 20));
      assert.equal((await readSweepState(driver)).quietMs, 1_000, 'a store with a state keeps its promise');
      await age(root);
      const t0 = performance.now();
      const report = await new GarbageCollector(driver, new Listing(driver)).collect({ grace: 0, deleteUntagged: false, dryRun: false, quietMs: 10 });
      assert.equal(report.blobs.length, 1, JSON.stringify(report));
      assert.ok(performance.now() - t0 >= 1_000, `the sweep that deleted took ${performance.now() - t0} ms, less than the 1 s promised`);
    } finally {
      await registry.close();
    }
  });
});
