import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storageView } from '../../src/insight/storage-view';
import { createMemoryDriver } from '../../storage-drivers';
import { EMPTY_CONFIG, MT, descriptor, ociManifest, pushBlob, pushManifest, randomBlob } from './helpers';
import { useRegistry } from './server';

describe('the storage view', () => {
  const driver = createMemoryDriver();
  const registry = useRegistry({ driver });

  test('bytes per repository, shared layers counted once, and what a collection would reclaim', async () => {
    const r = registry.r();
    const shared = randomBlob(10_000);
    const onlyA = randomBlob(3_000);
    const onlyB = randomBlob(2_000);
    const orphan = randomBlob(700);
    const image = async (name: string, layers: typeof shared[]) => {
      await pushBlob(r, name, EMPTY_CONFIG);
      for (const l of layers) await pushBlob(r, name, l);
      const m = ociManifest({ config: descriptor(EMPTY_CONFIG, MT.ociConfig), layers: layers.map((l) => descriptor(l, MT.ociLayer)) });
      assert.equal((await pushManifest(r, name, 'v1', m)).status, 201);
      return m.size;
    };
    const manifestA = await image('team/a', [shared, onlyA]);
    const manifestB = await image('team/b', [shared, onlyB]);
    // Uploaded but named by no manifest: the collector's to reclaim.
    await pushBlob(r, 'team/c', orphan);

    const view = await storageView(driver, registry.app.registry.listing);
    const config = EMPTY_CONFIG.data.length;
    const a = view.repositories.find((x) => x.name === 'team/a')!;
    const b = view.repositories.find((x) => x.name === 'team/b')!;
    assert.equal(a.bytes, manifestA + config + 10_000 + 3_000);
    assert.equal(b.bytes, manifestB + config + 10_000 + 2_000);
    // The config and the big layer are shared: each repository alone holds only its own.
    assert.equal(a.exclusiveBytes, manifestA + 3_000);
    assert.equal(b.exclusiveBytes, manifestB + 2_000);
    assert.equal(view.savedBySharing, config + 10_000);
    assert.equal(view.referencedBytes, manifestA + manifestB + config + 10_000 + 3_000 + 2_000);
    assert.equal(view.unreferencedBytes, 700);
    assert.equal(view.unreferencedBlobs, 1);
    assert.equal(view.storedBytes, view.referencedBytes + 700);
    assert.deepEqual(
      view.repositories.map((x) => x.name),
      ['team/a', 'team/b', 'team/c'],
    );
    // The same through the API, on an open registry.
    const res = await fetch(`${registry.url}/v2/_berth/insight/storage`);
    assert.equal(res.status, 200);
    const served = (await res.json()) as typeof view;
    assert.equal(served.savedBySharing, view.savedBySharing);
    assert.equal(served.unreferencedBytes, 700);
  });
});
