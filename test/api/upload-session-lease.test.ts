import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import type { UploadLeaseTimings } from '../../src/oci/upload-lease';
import { assertStoreConsistent } from '../helpers/store-check';
import { digestOf, getRaw, randomBlob, repoName } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, withQuery, type RawResponse, type TestRegistry } from './server';

/** A second request waits 1 s; a lease not renewed for 3 s is taken over. */
const TIMINGS: UploadLeaseTimings = { ttlMs: 3_000, renewMs: 200, fenceMs: 1_000, waitMs: 1_000, pollMs: 50 };

/**
 * docs/architecture.md, "Uploads": requests on one upload session exclude each other across
 * processes, so that no byte of a request still streaming reaches a blob another request committed.
 * Two apps on one directory, as http.workers and replicas are.
 */
describe('requests racing on one upload session (filesystem, two processes)', () => {
  let dir: string;
  let a: TestRegistry;
  let b: TestRegistry;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-upload-lease-'));
    const start = () => startRegistry({ driver: createFilesystemDriver({ rootDirectory: dir }), deps: { uploadLeaseTimings: TIMINGS } });
    [a, b] = [await start(), await start()];
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  async function storedSize(reg: TestRegistry, location: string): Promise<number> {
    return Number(String((await reg.r().get(pathOf(location)).expect(204)).headers.range).split('-')[1]) + 1;
  }

  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; !(await check()); i++) {
      assert.ok(i < 400, 'timed out');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A session on A holding `prefix`; its Location. */
  async function session(name: string, prefix: Buffer): Promise<string> {
    const post = await a.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    const res = await a
      .r()
      .patch(pathOf(post.headers.location))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `0-${prefix.length - 1}`)
      .send(prefix)
      .expect(202);
    return res.headers.location;
  }

  /**
   * A streamed PATCH on B that sends `first`, waits until it is stored, runs `meanwhile` (another
   * request on the session) and only then sends `second`.
   */
  async function heldPatch<T>(location: string, first: Buffer, second: Buffer, meanwhile: () => Promise<T>): Promise<{ patch: RawResponse; other: T }> {
    const before = await storedSize(a, location);
    let other: T | undefined;
    async function* body() {
      yield first;
      await until(async () => (await storedSize(a, location)) === before + first.length);
      other = await meanwhile();
      yield second;
    }
    const patch = await rawRequest(b.url, { method: 'PATCH', path: pathOf(location), headers: { 'content-type': 'application/octet-stream' }, chunks: body() });
    return { patch, other: other as T };
  }

  it('a PUT committing while a PATCH still streams: the committed blob keeps hashing to its digest', async () => {
    const name = repoName();
    const [prefix, first, second] = [200_000, 100_000, 100_000].map((n) => randomBlob(n).data);
    const location = await session(name, prefix);
    const soFar = digestOf(Buffer.concat([prefix, first]));
    const { patch, other: put } = await heldPatch(location, first, second, () => a.r().put(pathOf(withQuery(location, 'digest', soFar))).set('Content-Length', '0'));
    const got = await getRaw(a.r(), `/v2/${name}/blobs/${soFar}`);
    if (got.status === 200) assert.equal(digestOf(got.body as Buffer), soFar, 'the committed blob no longer holds the bytes of its digest');
    await assertStoreConsistent(dir);

    // The PUT waited for the PATCH and gave up: told where the session stands, which still works.
    assertOciError(put, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(put.headers.range, `0-${prefix.length + first.length - 1}`);
    assert.ok(put.headers.location, 'the refusal names the session');
    assert.equal(patch.status, 202, patch.body.toString());
    const all = Buffer.concat([prefix, first, second]);
    assert.equal(patch.headers.range, `0-${all.length - 1}`);
    await a.r().put(pathOf(withQuery(String(patch.headers.location), 'digest', digestOf(all)))).set('Content-Length', '0').expect(201);
    const blob = await getRaw(b.r(), `/v2/${name}/blobs/${digestOf(all)}`).expect(200);
    assert.ok(Buffer.compare(blob.body as Buffer, all) === 0);
    await assertStoreConsistent(dir);
  });
});
