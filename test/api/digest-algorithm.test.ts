import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { getRaw, randomBlob, recordingDriver, repoName, type Content } from './helpers';
import { assertOciError, pathOf, startRegistry, withQuery, type TestRegistry } from './server';

/** Distribution-spec end-4c: POST /v2/<name>/blobs/uploads/?digest-algorithm=<algorithm>. */
describe('upload sessions declaring their digest algorithm', () => {
  let reg: TestRegistry;
  const recording = recordingDriver(createMemoryDriver());
  const reads = recording.reads;
  before(async () => {
    reg = await startRegistry({ driver: recording.driver });
  });
  after(async () => reg.close());

  /** POST ?digest-algorithm=, two ranged PATCHes, then the closing PUT with `digest`. */
  async function chunked(name: string, algorithm: string, blob: Content, digest = blob.digest) {
    const post = await reg.r().post(`/v2/${name}/blobs/uploads/?digest-algorithm=${algorithm}`).set('Content-Length', '0').expect(202);
    assert.ok(post.headers.location);
    const half = Math.floor(blob.size / 2);
    const first = await reg
      .r()
      .patch(pathOf(post.headers.location))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `0-${half - 1}`)
      .send(blob.data.subarray(0, half))
      .expect(202);
    const second = await reg
      .r()
      .patch(pathOf(first.headers.location))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `${half}-${blob.size - 1}`)
      .send(blob.data.subarray(half))
      .expect(202);
    return reg.r().put(pathOf(withQuery(second.headers.location, 'digest', digest))).set('Content-Length', '0');
  }

  const uploadReads = () => reads.filter((p) => p.includes('/_uploads/'));

  it('sha512: the chunked upload completes (201), and the blob is pullable by its sha512 digest', async () => {
    const name = repoName();
    const blob = randomBlob(100_000, 'sha512');
    const put = await chunked(name, 'sha512', blob);
    assert.equal(put.status, 201, put.text);
    assert.equal(put.headers['docker-content-digest'], blob.digest);
    const pulled = await getRaw(reg.r(), pathOf(put.headers.location)).expect(200);
    assert.ok(Buffer.compare(pulled.body as Buffer, blob.data) === 0);
    assert.equal(pulled.headers['docker-content-digest'], blob.digest);
  });

  it('declared up front, sha512 is computed as the bytes arrive: the commit reads nothing back', async () => {
    const name = repoName();
    const blob = randomBlob(50_000, 'sha512');
    reads.length = 0;
    assert.equal((await chunked(name, 'sha512', blob)).status, 201);
    assert.deepEqual(uploadReads(), []);
  });

  it('a monolithic POST ?digest=sha512:… also verifies without reading the upload back', async () => {
    const name = repoName();
    const blob = randomBlob(50_000, 'sha512');
    reads.length = 0;
    await reg.r().post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).set('Content-Type', 'application/octet-stream').send(blob.data).expect(201);
    assert.deepEqual(uploadReads(), []);
  });

  it('the declaration travels in the upload URL: another replica continuing the session needs no re-read either', async () => {
    const other = await startRegistry({ driver: recording.driver });
    try {
      const name = repoName();
      const blob = randomBlob(20_000, 'sha512');
      const post = await reg.r().post(`/v2/${name}/blobs/uploads/?digest-algorithm=sha512`).set('Content-Length', '0').expect(202);
      reads.length = 0;
      const patched = await other.r().patch(pathOf(post.headers.location)).set('Content-Type', 'application/octet-stream').send(blob.data).expect(202);
      await other.r().put(pathOf(withQuery(patched.headers.location, 'digest', blob.digest))).set('Content-Length', '0').expect(201);
      assert.deepEqual(uploadReads(), []);
      await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    } finally {
      await other.close();
    }
  });

  it('sha256 is accepted too', async () => {
    const name = repoName();
    const blob = randomBlob(10_000);
    assert.equal((await chunked(name, 'sha256', blob)).status, 201);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
  });

  it('the declared algorithm is a hint: a closing digest of another algorithm is still verified and accepted', async () => {
    const name = repoName();
    const blob = randomBlob(10_000);
    assert.equal((await chunked(name, 'sha512', blob)).status, 201);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    const wrong = await chunked(name, 'sha512', randomBlob(10_000, 'sha512'), `sha512:${'0'.repeat(128)}`);
    assertOciError(wrong, 400, ['DIGEST_INVALID']);
  });

  for (const algorithm of ['md5', 'sha384', 'blake3', '', 'SHA512', 'sha512:abc']) {
    it(`an unsupported or malformed algorithm (${JSON.stringify(algorithm)}) is 400 DIGEST_INVALID, and no session starts`, async () => {
      const name = repoName();
      const res = await reg.r().post(`/v2/${name}/blobs/uploads/?digest-algorithm=${encodeURIComponent(algorithm)}`).set('Content-Length', '0');
      assertOciError(res, 400, ['DIGEST_INVALID']);
      assert.equal(res.headers.location, undefined);
    });
  }

  it('a digest or mount of another algorithm in the same request contradicts it: 400 DIGEST_INVALID', async () => {
    const name = repoName();
    const blob = randomBlob(1000);
    const post = await reg.r().post(`/v2/${name}/blobs/uploads/?digest-algorithm=sha512&digest=${blob.digest}`).send(blob.data);
    assertOciError(post, 400, ['DIGEST_INVALID']);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
    const mount = await reg.r().post(`/v2/${name}/blobs/uploads/?digest-algorithm=sha512&mount=${blob.digest}`).set('Content-Length', '0');
    assertOciError(mount, 400, ['DIGEST_INVALID']);
  });
});
