import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { GarbageCollector } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { paths } from '../../src/oci/paths';
import { startRegistry, testConfig } from '../api/server';
import { assertStoreConsistent } from '../helpers/store-check';
import { imageManifest, pushMonolithic, randomBlob } from '../durability/push-client';
import { assertCandidate, assertPushOutcome, GATE_POINTS, gated, orphanedLayer, pushDuringPause, type PushResult } from './race-scenarios';
import { age } from './age';

const WRITERS = 8;


/** The driver, counting its reads of the sweep state. */
function countingSweepReads(inner: StorageDriver) {
  const counter = { reads: 0 };
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  driver.getContent = (path) => {
    if (path === paths.gcSweepState) counter.reads++;
    return inner.getContent(path);
  };
  return { driver, counter };
}

/*
 * Every write that makes content reachable reads the sweep state around its links (gc-fence.ts); on
 * S3 each read is a request. Concurrent writers share reads, and a sweep racing them still keeps
 * everything they reference.
 */
describe('the collection fence shares sweep-state reads between concurrent writers', { timeout: 120_000 }, () => {
  const roots: string[] = [];
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  for (const point of GATE_POINTS)
    it(`${WRITERS} concurrent manifest PUTs racing a sweep (paused at ${point}) read the state fewer than ${2 * WRITERS} times, and lose nothing`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'berth-fence-reads-'));
      roots.push(root);
      const counted = countingSweepReads(createFilesystemDriver({ rootDirectory: root }));
      const registry = await startRegistry({ driver: counted.driver, config: testConfig() });
      try {
        const base = registry.url;
        const layer = await orphanedLayer(base);
        // Each repository links the orphaned layer (unreferenced, so the sweep may take it) and a config.
        const configs = await Promise.all(
          Array.from({ length: WRITERS }, async (_, i) => {
            const repo = `race/many-${i}`;
            const mounted = await fetch(`${base}/v2/${repo}/blobs/uploads/?mount=${layer.digest}&from=race/old`, { method: 'POST' });
            assert.equal(mounted.status, 201);
            const config = randomBlob(100, 200);
            return { repo, digest: await pushMonolithic(base, repo, config), size: config.length };
          }),
        );
        await age(root);

        // Paused before it announces itself, the sweep must find the PUTs' links when it re-reads them;
        // paused at its first delete, past that re-read, the fence must hold every PUT until it is done.
        const gate = gated(createFilesystemDriver({ rootDirectory: root }), point);
        const collecting = new GarbageCollector(gate.driver, new Listing(gate.driver)).collect({ grace: 3_600_000, deleteUntagged: false, dryRun: false });
        await gate.atGate;
        await assertCandidate(gate.driver, layer);
        counted.counter.reads = 0;
        let results: PushResult[] = [];
        await pushDuringPause(point, gate, async () => {
          results = await Promise.all(
            configs.map(async ({ repo, digest, size }) => {
              const manifest = imageManifest({ digest, size }, [{ digest: layer.digest, size: layer.bytes.length }]);
              const res = await fetch(`${base}/v2/${repo}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
              return { repo, status: res.status, blobs: [digest, layer.digest] };
            }),
          );
          return results[0];
        }, 500);
        const reads = counted.counter.reads;
        await collecting;
        for (const result of results) await assertPushOutcome(base, result);
        // Held past the sweep that took the layer, a PUT checks again and is refused (400): honest.
        if (point === 'announce') assert.ok(results.every((r) => r.status === 201), JSON.stringify(results.map((r) => r.status)));
        assert.ok(reads < 2 * WRITERS, `${WRITERS} PUTs read the sweep state ${reads} times`);
        await assertStoreConsistent(root, { collected: true });
      } finally {
        await registry.close();
      }
    });
});
