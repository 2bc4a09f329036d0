import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import { GarbageCollector, type GcReport } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { assertStoreConsistent } from '../helpers/store-check';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { imageManifest, pushMonolithic, randomBlob, sha256 } from '../durability/push-client';
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
  it('a push whose tag and revision a delete by digest removed, and whose content a collection then swept, is refused, not tagged again', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-gc-race-'));
    roots.push(root);
    const holding = holdingWrites(createFilesystemDriver({ rootDirectory: root }));
    const registry = await startRegistry({ driver: holding.driver, config: testConfig() });
    try {
      const base = registry.url;
      const name = 'race/again';
      const config = randomBlob(100, 200);
      const layer = randomBlob(2000, 3000);
      const configDigest = await pushMonolithic(base, name, config);
      const layerDigest = await pushMonolithic(base, name, layer);
      const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layerDigest, size: layer.length }]);
      const digest = sha256(manifest);
      // The push is held once the fence has cleared it and its tag's current link is written.
      holding.hold(paths.tagIndexLink(name, 'v1', parseDigest(digest)));
      const putting = fetch(`${base}/v2/${name}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
      await holding.atHold;
      assert.equal((await fetch(`${base}/v2/${name}/manifests/${digest}`, { method: 'DELETE' })).status, 202);
      await age(root);
      const driver = createFilesystemDriver({ rootDirectory: root });
      const report = await new GarbageCollector(driver, new Listing(driver)).collect({ grace: 3_600_000, deleteUntagged: false, dryRun: false });
      assert.ok(report.blobs.some((b) => b.digest === layerDigest), 'the collection swept the layer nothing referenced any more');
      holding.release();
      const put = await putting;
      // Its content is gone: writing the tag again would name a manifest nobody can pull.
      assert.equal(put.status, 400, await put.text());
      assert.equal((await fetch(`${base}/v2/${name}/manifests/v1`)).status, 404);
      await assertStoreConsistent(root, { collected: true });
    } finally {
      await registry.close();
    }
  });
});
