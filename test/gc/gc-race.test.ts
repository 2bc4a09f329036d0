import { after, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import { GarbageCollector, type GcReport } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { assertStoreConsistent } from '../helpers/store-check';
import { assertCandidate, assertPushOutcome, GATE_POINTS, gated, holdingWrites, orphanedLayer, pushAcrossTheMark, pushDuringPause, scenarios } from './race-scenarios';
import { age } from './age';


describe('online garbage collection racing pushes that reuse an old, orphaned layer', { timeout: 120_000 }, () => {
  const roots: string[] = [];
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  for (const point of GATE_POINTS)
    for (const scenario of scenarios)
      it(`${scenario.name} (collector paused at ${point})`, async () => {
        const root = await mkdtemp(join(tmpdir(), 'berth-gc-race-'));
        roots.push(root);
        const registry: TestRegistry = await startRegistry({ driver: createFilesystemDriver({ rootDirectory: root }), config: testConfig() });
        try {
          const base = registry.url;
          const layer = await orphanedLayer(base);
          await age(root);

          const gate = gated(createFilesystemDriver({ rootDirectory: root }), point);
          const collecting: Promise<GcReport> = new GarbageCollector(gate.driver, new Listing(gate.driver)).collect({ grace: 3_600_000, deleteUntagged: false, dryRun: false });
          await gate.atGate;
          await assertCandidate(gate.driver, layer);
          const result = await pushDuringPause(point, gate, () => scenario.push(base, layer), 500);
          await collecting;
          await assertPushOutcome(base, result);
          await assertStoreConsistent(root, { collected: true });
        } finally {
          await registry.close();
        }
      });

  it('a manifest whose data lands while the mark reads its revision keeps the orphaned layer it reuses', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-gc-race-'));
    roots.push(root);
    const holding = holdingWrites(createFilesystemDriver({ rootDirectory: root }));
    const registry = await startRegistry({ driver: holding.driver, config: testConfig() });
    try {
      const layer = await orphanedLayer(registry.url);
      await age(root);
      await pushAcrossTheMark(registry.url, layer, holding, () => {
        const gate = gated(createFilesystemDriver({ rootDirectory: root }), 'announce');
        return { gate, collecting: new GarbageCollector(gate.driver, new Listing(gate.driver)).collect({ grace: 3_600_000, deleteUntagged: false, dryRun: false }) };
      });
      await assertStoreConsistent(root, { collected: true });
    } finally {
      await registry.close();
    }
  });
});
