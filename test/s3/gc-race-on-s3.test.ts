import { after, before, describe, it } from 'node:test';
import { createS3Driver } from '../../storage-drivers/s3';
import type { StorageDriver } from '../../storage-drivers/types';
import { GarbageCollector, type GcReport } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { assertStoreConsistent } from '../helpers/store-check';
import { assertCandidate, assertPushOutcome, GATE_POINTS, gated, holdingWrites, orphanedLayer, pushAcrossTheMark, pushDuringPause, scenarios, type Layer } from '../gc/race-scenarios';
import { destroyBucket, s3Client } from './berth-on-s3';

const skip = rgwSkipReason();
/** Short, since S3 modification times cannot be set back: the seeded content is simply left to age past it. */
const GRACE_MS = 1_000;
/** Past the grace, and past the 2 s of clock slack the sweep's re-read allows, so the seeded links are not "fresh". */
const AGE_MS = 4_500;
/** How long a push must stay held by the fence; unhindered, each push takes well under this on RGW. */
const HOLD_MS = 3_000;

interface Case {
  bucket: string;
  driver: StorageDriver;
  registry: TestRegistry;
  layer: Layer;
  holding: ReturnType<typeof holdingWrites>;
}

/**
 * gc-race.test.ts on a store in an RGW bucket: a registry in this process on the S3 driver, and a
 * collector on a second S3 driver, paused at its announcement or at its first delete while a push
 * reuses the orphaned layer by HEAD, by upload into a new repository, or by mount.
 */
describe('online garbage collection on S3 racing pushes that reuse an old, orphaned layer', { skip, timeout: 240_000 }, () => {
  let rgw: Rgw;
  const cases = new Map<string, Case>();
  const open = (bucket: string) =>
    createS3Driver({ bucket, region: rgw.region, regionendpoint: rgw.endpoint, forcepathstyle: true, accesskey: rgw.accessKey, secretkey: rgw.secretKey, redirect: false });

  // Every case's store is seeded first and aged together: one wait for all of them.
  before(async () => {
    rgw = await acquireRgw();
    const names = [...GATE_POINTS.flatMap((point) => scenarios.map((scenario) => `${point} ${scenario.name}`)), 'across the mark'];
    for (const [n, name] of names.entries()) {
      const bucket = `berth-gc-race-${process.pid}-${n}`;
      await rgw.createBucket(bucket);
      const driver = open(bucket);
      const holding = holdingWrites(driver);
      const registry = await startRegistry({ driver: holding.driver, config: testConfig() });
      cases.set(name, { bucket, driver, registry, holding, layer: await orphanedLayer(registry.url) });
    }
    await new Promise((r) => setTimeout(r, AGE_MS));
  });
  after(async () => {
    const client = s3Client(rgw);
    for (const c of cases.values()) {
      await c.registry.close();
      await destroyBucket(client, c.bucket).catch(() => undefined);
    }
    client.destroy();
    await releaseRgw();
  });

  for (const point of GATE_POINTS)
    for (const scenario of scenarios)
      it(`${scenario.name} (collector paused at ${point})`, async () => {
        const { bucket, driver, registry, layer } = cases.get(`${point} ${scenario.name}`)!;
        const gate = gated(open(bucket), point);
        const collecting: Promise<GcReport> = new GarbageCollector(gate.driver, new Listing(gate.driver)).collect({ grace: GRACE_MS, deleteUntagged: false, dryRun: false });
        await gate.atGate;
        await assertCandidate(gate.driver, layer);
        const result = await pushDuringPause(point, gate, () => scenario.push(registry.url, layer), HOLD_MS);
        await collecting;
        await assertPushOutcome(registry.url, result);
        await assertStoreConsistent(driver, { collected: true });
      });

  it('a manifest whose data lands while the mark reads its revision keeps the orphaned layer it reuses', async () => {
    const { bucket, driver, registry, holding, layer } = cases.get('across the mark')!;
    await pushAcrossTheMark(registry.url, layer, holding, () => {
      const gate = gated(open(bucket), 'announce');
      return { gate, collecting: new GarbageCollector(gate.driver, new Listing(gate.driver)).collect({ grace: GRACE_MS, deleteUntagged: false, dryRun: false }) };
    });
    await assertStoreConsistent(driver, { collected: true });
  });
});
