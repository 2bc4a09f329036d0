import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { MT, content, type Manifest, descriptor, getRaw, ociManifest, pushBlob, pushManifest, randomBlob, repoName } from '../api/helpers';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { pathOf, withQuery } from '../api/server';
import { startBerthOnS3, type BerthOnS3 } from './berth-on-s3';
import { countByOperation, startCountingProxy, type CountingProxy } from './counting-proxy';

const skip = rgwSkipReason();

/*
 * What one registry operation costs in S3 requests (which S3 bills), counted by a proxy between Berth
 * and RGW. Berth runs as a replica would: reads are not cached in the process.
 */
describe('S3 requests per operation (RGW)', { skip, timeout: 300_000 }, () => {
  let rgw: Rgw;
  let proxy: CountingProxy;
  let reg: BerthOnS3;
  const r = () => request.agent(reg.url);

  before(async () => {
    rgw = await acquireRgw();
    proxy = await startCountingProxy(rgw.endpoint);
    // The quiet period as shipped (the tests' processes otherwise shorten it): with it, a write within
    // 7.5 s of its look at the sweep state needs no second look.
    // Image insight off: its analysis of what the tests push runs in the background, after their
    // responses, and its requests would land in whichever window is counting then (its own cost per
    // pushed blob is in docs/architecture.md, "Image insight: analysis in storage").
    reg = await startBerthOnS3(rgw, { redirect: false, endpoint: proxy.url, env: { REGISTRY_STORAGE_MAINTENANCE_GC_QUIETPERIOD: '15s', REGISTRY_INSIGHT_ENABLED: 'false' } });
  });
  after(async () => {
    await reg?.stop();
    await proxy?.close();
    await releaseRgw();
  });

  /** S3 requests `work` caused, by operation, with the keys for the message. */
  async function counted(work: () => Promise<unknown>): Promise<{ total: number; byOp: Record<string, number>; trace: string }> {
    proxy.requests.length = 0;
    await work();
    const seen = [...proxy.requests];
    return { total: seen.length, byOp: countByOperation(seen), trace: seen.map((q) => `${q.method} ${q.url} ${q.status}`).join('\n') };
  }

  it('a HEAD of a blob the repository does not have: three requests', async () => {
    const name = repoName('costs');
    const c = await counted(() => r().head(`/v2/${name}/blobs/${randomBlob(64).digest}`).expect(404));
    assert.ok(c.total <= 3, `${c.total} requests:\n${c.trace}`);
  });

  /** A repository holding a config and a layer, with a first manifest tagged `warm`; what a second manifest over them would be. */
  async function seeded(): Promise<{ name: string; first: Manifest; next: Manifest }> {
    const name = repoName('costs');
    const config = content(Buffer.from('{"architecture":"amd64","os":"linux"}'));
    const layer = randomBlob(512);
    await pushBlob(r(), name, config);
    await pushBlob(r(), name, layer);
    const first = ociManifest({ config: descriptor(config, MT.ociConfig), layers: [descriptor(layer, MT.ociLayer)] });
    await pushManifest(r(), name, 'warm', first).expect(201);
    const next = ociManifest({ config: descriptor(config, MT.ociConfig), layers: [descriptor(layer, MT.ociLayer)], annotations: { n: '2' } });
    return { name, first, next };
  }

  it('a manifest PUT of a new manifest under a new tag: ten requests, no listing, no read', async () => {
    const { name, next } = await seeded();
    const c = await counted(() => pushManifest(r(), name, 'v2', next).expect(201));
    // 1 PutObject of the data (conditional: If-None-Match), 4 HeadObject (the config and the layer:
    // link and data), 1 PutObject of the revision link (conditional), then the tag's current link
    // and its index link, and a HeadObject each of the current link and the revision link once more
    // after them (a racing delete, "Deletes racing pushes"). The GC fence's looks at the sweep state:
    // the first reuses the seeding's, and the second is spared by the quiet period it promised.
    assert.ok(c.total <= 10, `${c.total} requests ${JSON.stringify(c.byOp)}:\n${c.trace}`);
    assert.equal(c.byOp.ListObjectsV2 ?? 0, 0, c.trace);
    // No read of what the tag named before: nothing needs it once tags follow the fence.
    assert.equal(c.byOp.GetObject ?? 0, 0, c.trace);
  });

  it('a manifest PUT of a manifest the repository holds, under a new tag: eleven requests', async () => {
    const { name, first } = await seeded();
    const c = await counted(() => pushManifest(r(), name, 'again', first).expect(201));
    // As above, but the data is not written again (412), and the revision link is written again after
    // its conditional PUT found it (so that a collection's re-read sees it fresh).
    assert.ok(c.total <= 11, `${c.total} requests ${JSON.stringify(c.byOp)}:\n${c.trace}`);
    assert.equal(c.byOp.ListObjectsV2 ?? 0, 0, c.trace);
  });

  it('a blob GET: two requests', async () => {
    const name = repoName('costs');
    const blob = randomBlob(4096);
    await pushBlob(r(), name, blob);
    const c = await counted(async () => {
      const res = await getRaw(r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
      assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0);
    });
    assert.ok(c.total <= 2, `${c.total} requests:\n${c.trace}`);
  });

  it('a layer pushed as docker does (HEAD, POST, one streamed PATCH, PUT): fewer requests than Distribution', async () => {
    const name = repoName('costs');
    const blob = randomBlob(1 << 20);
    const c = await counted(async () => {
      await r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
      const start = await r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
      const patched = await r().patch(pathOf(start.headers.location)).set('Content-Type', 'application/octet-stream').send(blob.data).expect(202);
      await r().put(pathOf(withQuery(patched.headers.location, 'digest', blob.digest))).expect(201);
    });
    // Distribution 2.8 sends 27 for the same (bench/README.md, "S3 results"). Deleting the committed
    // upload's directory costs a listing and its batch: nothing writes there any more, so there is
    // no second listing and no look for multipart uploads (a delete racing writers needs both). 22
    // after the tests above (the GC fence's first look reuses a sweep-state read under 5 s old, and
    // the quiet period spares the second), 24 alone: the first write to a bucket reads the sweep state
    // and creates it (gc-sweep-state.ts, ensureSweepState).
    assert.ok(c.total <= 24, `${c.total} requests ${JSON.stringify(c.byOp)}:\n${c.trace}`);
    assert.equal(c.byOp.ListMultipartUploads ?? 0, 0, c.trace);
  });
});
