import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GarbageCollector } from '../../src/oci/gc';
import { parseDigest } from '../../src/oci/digest';
import { isFile } from '../../src/oci/links';
import { Listing } from '../../src/oci/listing';
import { paths } from '../../src/oci/paths';
import { Pusher, bytes, pushImage } from './images';
import { startInsightRegistry, type InsightRegistry } from './insight-server';

describe('insight: what a collection removes', () => {
  let reg: InsightRegistry;
  let p: Pusher;
  before(async () => {
    reg = await startInsightRegistry();
    p = new Pusher(reg.url);
  });
  after(() => reg.close());

  test("a deleted image's cached report and its layers' analyses go with the data", async () => {
    const image = await pushImage(p, 'gc/app', 'v1', { layers: [[{ name: 'a', content: bytes(100) }]] });
    for (let i = 0; (await p.get('/v2/gc/app/_berth/insight/v1')).status !== 200; i++) {
      assert.ok(i < 200, 'the report stayed pending');
      await new Promise((r) => setTimeout(r, 20));
    }
    const manifest = parseDigest(image.manifest.digest);
    const layer = parseDigest(image.layers[0].digest);
    assert.equal(await isFile(reg.driver, paths.insightImage(manifest)), true, 'the report was not cached');
    assert.equal(await isFile(reg.driver, paths.insightLayerRecord(layer)), true);
    assert.equal((await fetch(`${reg.url}/v2/gc/app/manifests/${manifest.value}`, { method: 'DELETE' })).status, 202);
    const report = await new GarbageCollector(reg.driver, new Listing(reg.driver)).collect({ grace: 0, deleteUntagged: false, dryRun: false, now: Date.now() + 60_000 });
    assert.ok(report.blobs.some((b) => b.digest === manifest.value));
    assert.equal(await isFile(reg.driver, paths.insightImage(manifest)), false);
    assert.equal(await isFile(reg.driver, paths.insightLayerRecord(layer)), false);
    assert.equal(await isFile(reg.driver, paths.insightFileList(layer)), false);
  });
});
