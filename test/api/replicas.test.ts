import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { getRaw, patchChunk, pushImage, randomBlob, repoName, type Content, type TagList } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, testConfig, withQuery, type TestRegistry } from './server';

/**
 * docs/architecture.md, "Uploads": upload state lives in storage and `_state` is signed with a
 * shared secret, so any replica sharing the store continues a session another one started.
 */
describe('two replicas on one filesystem store', () => {
  let dir: string;
  let a: TestRegistry;
  let b: TestRegistry;
  let stranger: TestRegistry;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-replicas-'));
    const store = () => createFilesystemDriver({ rootDirectory: dir });
    a = await startRegistry({ driver: store() });
    b = await startRegistry({ driver: store() });
    stranger = await startRegistry({
      driver: store(),
      config: testConfig({ http: { secret: 'another-secret-of-32-characters!' } }),
    });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close(), stranger?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const patch = (reg: TestRegistry, location: string, from: number, data: Buffer) => patchChunk(reg.r(), location, from, data);

  async function assertReadableFromBoth(name: string, blob: Content): Promise<void> {
    for (const reg of [a, b]) {
      const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
      assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0);
      assert.equal(res.headers['docker-content-digest'], blob.digest);
    }
  }

  it('POST on A, PATCH on B, PATCH on A, PUT on B: the blob is readable from both', async () => {
    const name = repoName();
    const blob = randomBlob(300_000);
    const post = await a.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    const p1 = await patch(b, post.headers.location, 0, blob.data.subarray(0, 100_000)).expect(202);
    assert.equal(p1.headers.range, '0-99999');
    const p2 = await patch(a, p1.headers.location, 100_000, blob.data.subarray(100_000, 200_000)).expect(202);
    assert.equal(p2.headers.range, '0-199999');
    const status = await b.r().get(pathOf(p2.headers.location)).expect(204);
    assert.equal(status.headers.range, '0-199999');
    await b
      .r()
      .put(pathOf(withQuery(status.headers.location, 'digest', blob.digest)))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `200000-${blob.size - 1}`)
      .send(blob.data.subarray(200_000))
      .expect(201);
    await assertReadableFromBoth(name, blob);
  });

  it('streamed PATCHes alternate between replicas and the commit on the first still verifies', async () => {
    const name = repoName();
    const blob = randomBlob(200_000);
    // Two sessions with the same chunks: one closed with a wrong digest, one with the right one.
    const closeWith = async (digest: string) => {
      const post = await a.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
      const s1 = await rawRequest(a.url, { method: 'PATCH', path: pathOf(post.headers.location), chunks: [blob.data.subarray(0, 70_000)] });
      assert.equal(s1.status, 202);
      const s2 = await rawRequest(b.url, { method: 'PATCH', path: pathOf(s1.headers.location), chunks: [blob.data.subarray(70_000, 140_000)] });
      assert.equal(s2.status, 202);
      assert.equal(s2.headers.range, '0-139999');
      // A's in-process hash covers only the first 70,000 bytes now: it must not trust it.
      return a.r().put(pathOf(withQuery(s2.headers.location as string, 'digest', digest))).send(blob.data.subarray(140_000));
    };
    assertOciError(await closeWith(randomBlob(1).digest), 400, ['DIGEST_INVALID']);
    await a.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
    assert.equal((await closeWith(blob.digest)).status, 201);
    await assertReadableFromBoth(name, blob);
  });

  it('a session completed on the replica that did not hash the middle chunk gets the right digest', async () => {
    const name = repoName();
    const blob = randomBlob(150_000);
    const post = await a.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    const p1 = await patch(a, post.headers.location, 0, blob.data.subarray(0, 50_000)).expect(202);
    const p2 = await patch(b, p1.headers.location, 50_000, blob.data.subarray(50_000, 100_000)).expect(202);
    await a.r().put(pathOf(withQuery(p2.headers.location, 'digest', blob.digest))).send(blob.data.subarray(100_000)).expect(201);
    await assertReadableFromBoth(name, blob);
  });

  it('manifests pushed on one replica are served, tagged and listed by the other', async () => {
    const name = repoName();
    const img = await pushImage(a.r(), name, 'v1');
    const res = await getRaw(b.r(), `/v2/${name}/manifests/v1`).expect(200);
    assert.ok(Buffer.compare(res.body as Buffer, img.manifest.data) === 0);
    // A tag moved on B is seen by A at once (no stale cache).
    const moved = await pushImage(b.r(), name, 'v1');
    const head = await a.r().head(`/v2/${name}/manifests/v1`).expect(200);
    assert.equal(head.headers['docker-content-digest'], moved.manifest.digest);
    await b.r().delete(`/v2/${name}/manifests/v1`).expect(202);
    await a.r().head(`/v2/${name}/manifests/v1`).expect(404);
    const tags = await a.r().get(`/v2/${name}/tags/list`);
    if (tags.status === 200) assert.deepEqual((tags.body as TagList).tags, []);
  });

  it('a replica with a different secret rejects the _state and leaves the session intact', async () => {
    const name = repoName();
    const blob = randomBlob(2000);
    const post = await a.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    const p1 = await patch(a, post.headers.location, 0, blob.data.subarray(0, 1000)).expect(202);
    assertOciError(await stranger.r().get(pathOf(p1.headers.location)), 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
    assertOciError(await patch(stranger, p1.headers.location, 1000, blob.data.subarray(1000)), 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
    const put = await stranger.r().put(pathOf(withQuery(p1.headers.location, 'digest', blob.digest))).send(blob.data.subarray(1000));
    assertOciError(put, 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
    assertOciError(await stranger.r().delete(pathOf(p1.headers.location)), 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
    const status = await b.r().get(pathOf(p1.headers.location)).expect(204);
    assert.equal(status.headers.range, '0-999');
    await b.r().put(pathOf(withQuery(status.headers.location, 'digest', blob.digest))).send(blob.data.subarray(1000)).expect(201);
    await assertReadableFromBoth(name, blob);
  });
});
