import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { GarbageCollector } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { startRegistry, type TestRegistry } from '../api/server';
import { imageManifest, pushMonolithic, putManifest, randomBlob, sha256 } from '../durability/push-client';

const REPOSITORIES = 6;
const MANIFESTS_PER_REPOSITORY = 4;
const LAYERS = 3;

/** The driver with every call counted by operation, each taking a few milliseconds (a round trip, as on S3), and the most in flight at once. */
function metered(inner: StorageDriver) {
  const calls: Record<string, number> = {};
  let inFlight = 0;
  let most = 0;
  const driver = Object.create(inner) as StorageDriver;
  const delay = () => new Promise((r) => setTimeout(r, 3));
  for (const op of ['getContent', 'putContent', 'stat', 'list', 'delete', 'purgeLeftovers'] as const) {
    (driver as unknown as Record<string, unknown>)[op] = async (...args: unknown[]) => {
      calls[op] = (calls[op] ?? 0) + 1;
      most = Math.max(most, ++inFlight);
      try {
        await delay();
        return await (inner[op] as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
      } finally {
        inFlight--;
      }
    };
  }
  driver.walk = async function* (path) {
    calls.walk = (calls.walk ?? 0) + 1;
    most = Math.max(most, ++inFlight);
    try {
      await delay();
    } finally {
      inFlight--;
    }
    yield* inner.walk(path);
  };
  return { driver, calls, most: () => most };
}

/**
 * What a collection costs in storage calls: on S3 each is a round trip, and a dry run over 12
 * repositories once took 55 s reading a link per layer, stating each revision and awaiting every
 * call in turn. A sha256 link names its own digest and is not read, revisions come with their
 * modification times from one walk, and reads go out together.
 */
describe('the cost of a collection in storage calls', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  const inner = createMemoryDriver();
  before(async () => {
    registry = await startRegistry({ driver: inner });
    for (let r = 0; r < REPOSITORIES; r++)
      for (let m = 0; m < MANIFESTS_PER_REPOSITORY; m++) {
        const repo = `cost/r${r}`;
        const config = randomBlob(100, 200);
        const layers = Array.from({ length: LAYERS }, () => randomBlob(100, 200));
        const descriptors = [];
        for (const l of layers) descriptors.push({ digest: await pushMonolithic(registry.url, repo, l), size: l.length });
        const manifest = imageManifest({ digest: await pushMonolithic(registry.url, repo, config), size: config.length }, descriptors);
        await putManifest(registry.url, repo, m % 2 === 0 ? `t${m}` : sha256(manifest), manifest);
      }
  });
  after(async () => {
    await registry.close();
  });

  for (const deleteUntagged of [false, true])
    it(`a dry run${deleteUntagged ? ' with deleteUntagged' : ''} reads each manifest once, no link of a sha256 blob, and reads in parallel`, async () => {
      const { driver, calls, most } = metered(inner);
      const report = await new GarbageCollector(driver, new Listing(driver)).collect({ grace: 0, deleteUntagged, dryRun: true });
      const manifests = REPOSITORIES * MANIFESTS_PER_REPOSITORY;
      assert.equal(report.repositories, REPOSITORIES);
      assert.equal(report.manifestsMarked, deleteUntagged ? manifests / 2 : manifests);
      // Every manifest once; with deleteUntagged, each tag's current link too.
      assert.equal(calls.getContent, manifests + (deleteUntagged ? manifests / 2 : 0), JSON.stringify(calls));
      assert.equal(calls.stat ?? 0, 1, `only the storage clock is stated: ${JSON.stringify(calls)}`);
      assert.ok((calls.list ?? 0) + (calls.walk ?? 0) <= 4 * REPOSITORIES + 4, `listings: ${JSON.stringify(calls)}`);
      assert.ok(most() >= 8, `at most ${most()} storage calls were in flight at once`);
    });
});
