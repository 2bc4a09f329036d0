import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob, sha256 } from '../durability/push-client';
import { startBerthOnS3, type BerthOnS3 } from './berth-on-s3';

const skip = rgwSkipReason();

describe('garbage collection on S3 (RGW)', { skip, timeout: 180_000 }, () => {
  let rgw: Rgw;
  let berth: BerthOnS3;
  before(async () => {
    rgw = await acquireRgw();
    berth = await startBerthOnS3(rgw, {
      redirect: false,
      env: {
        REGISTRY_STORAGE_MAINTENANCE_GC_ENABLED: 'true',
        REGISTRY_STORAGE_MAINTENANCE_GC_INTERVAL: '1s',
        REGISTRY_STORAGE_MAINTENANCE_GC_GRACE: '5s',
      },
    });
  });
  after(async () => {
    await berth?.stop();
    await releaseRgw();
  });

  it('a scheduled collection reclaims a deleted image from the bucket and keeps what is still referenced', async () => {
    const push = async (tag: string, layers: Buffer[]) => {
      const config = randomBlob(200, 300);
      const configDigest = await pushMonolithic(berth.url, 'gc/s3', config);
      const digests: string[] = [];
      for (const l of layers) digests.push(await pushMonolithic(berth.url, 'gc/s3', l));
      const manifest = imageManifest({ digest: configDigest, size: config.length }, layers.map((l, i) => ({ digest: digests[i], size: l.length })));
      return { digest: await putManifest(berth.url, 'gc/s3', tag, manifest), blobs: [configDigest, ...digests] };
    };
    const shared = randomBlob(3000, 4000);
    const a = await push('a', [shared, randomBlob(20_000, 30_000)]);
    const b = await push('b', [shared, randomBlob(20_000, 30_000)]);
    assert.equal((await fetch(`${berth.url}/v2/gc/s3/manifests/${a.digest}`, { method: 'DELETE' })).status, 202);

    const dataKey = (d: string) => `docker/registry/v2/blobs/sha256/${d.slice(7, 9)}/${d.slice(7)}/data`;
    const gone = [a.digest, a.blobs[0], a.blobs[2]];
    let keys: string[] = [];
    for (let i = 0; i < 60; i++) {
      keys = await berth.keys('docker/registry/v2/blobs/');
      if (gone.every((d) => !keys.includes(dataKey(d)))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const d of gone) assert.ok(!keys.includes(dataKey(d)), `${d} is still in the bucket`);
    for (const d of [b.digest, ...b.blobs]) assert.ok(keys.includes(dataKey(d)), `${d} was collected`);
    const m = await getBytes(`${berth.url}/v2/gc/s3/manifests/b`);
    assert.equal(m.status, 200);
    assert.equal(sha256(m.body), b.digest);
    for (const d of b.blobs) assert.equal((await getBytes(`${berth.url}/v2/gc/s3/blobs/${d}`)).status, 200);
    // The image's blobs pass the grace period one after the other, so one collection may take some
    // and the next the rest; the last one reports once its deletes are done.
    const reclaimed = () =>
      berth.berth
        .logs()
        .split('\n')
        .filter((l) => l.includes('garbage collection finished'))
        .reduce((n, l) => n + (JSON.parse(l) as { blobs: number }).blobs, 0);
    for (let i = 0; i < 20 && reclaimed() < 3; i++) await new Promise((r) => setTimeout(r, 250));
    assert.ok(reclaimed() >= 3, `the collections reported ${reclaimed()} blobs reclaimed`);
  });
});
