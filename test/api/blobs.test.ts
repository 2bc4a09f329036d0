import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getRaw, pushBlob, randomBlob, repoName, unknownDigest } from './helpers';
import { assertOciError, startRegistry, testConfig, useRegistry } from './server';

/** Spec "Pulling blobs" (end-2), "Checking if content exists", "Deleting blobs" (end-10). */
describe('blobs', () => {
  const reg = useRegistry();

  it('GET answers the bytes with Content-Length, Docker-Content-Digest and application/octet-stream', async () => {
    const name = repoName();
    const blob = randomBlob(1234);
    await pushBlob(reg.r(), name, blob);
    const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0);
    assert.equal(res.headers['content-length'], String(blob.size));
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  it('HEAD answers the same headers and no body', async () => {
    const name = repoName();
    const blob = randomBlob(4321);
    await pushBlob(reg.r(), name, blob);
    const res = await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.equal(res.headers['content-length'], String(blob.size));
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.ok(!res.text, 'HEAD must not carry a body');
  });

  it('Range: bytes=10-19 answers 206 with Content-Range and those ten bytes', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await pushBlob(reg.r(), name, blob);
    const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=10-19').expect(206);
    assert.equal(res.headers['content-range'], 'bytes 10-19/100');
    assert.equal(res.headers['content-length'], '10');
    assert.ok(Buffer.compare(res.body as Buffer, blob.data.subarray(10, 20)) === 0);
  });

  it('open-ended and suffix ranges follow RFC 9110', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await pushBlob(reg.r(), name, blob);
    const open = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=90-').expect(206);
    assert.equal(open.headers['content-range'], 'bytes 90-99/100');
    assert.ok(Buffer.compare(open.body as Buffer, blob.data.subarray(90)) === 0);
    const suffix = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=-5').expect(206);
    assert.equal(suffix.headers['content-range'], 'bytes 95-99/100');
    assert.ok(Buffer.compare(suffix.body as Buffer, blob.data.subarray(95)) === 0);
    const clipped = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=95-500').expect(206);
    assert.equal(clipped.headers['content-range'], 'bytes 95-99/100');
  });

  it('If-Range: the range only when it names the blob\'s ETag, else the whole blob (RFC 9110 §13.1.5)', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await pushBlob(reg.r(), name, blob);
    const url = `/v2/${name}/blobs/${blob.digest}`;
    const partial = await getRaw(reg.r(), url).set('Range', 'bytes=10-19').set('If-Range', `"${blob.digest}"`).expect(206);
    assert.ok(Buffer.compare(partial.body as Buffer, blob.data.subarray(10, 20)) === 0);
    for (const other of ['"sha256:' + '0'.repeat(64) + '"', `W/"${blob.digest}"`, 'Sat, 01 Jan 2000 00:00:00 GMT']) {
      const whole = await getRaw(reg.r(), url).set('Range', 'bytes=10-19').set('If-Range', other);
      assert.equal(whole.status, 200, other);
      assert.equal(whole.headers['content-range'], undefined, other);
      assert.ok(Buffer.compare(whole.body as Buffer, blob.data) === 0, other);
    }
  });

  it('an unsatisfiable Range answers 416', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await pushBlob(reg.r(), name, blob);
    const res = await reg.r().get(`/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=5000-6000');
    assert.equal(res.status, 416);
    // RFC 9110 §15.5.17: SHOULD send Content-Range with the current length.
    if (res.headers['content-range'] !== undefined) assert.equal(res.headers['content-range'], 'bytes */100');
  });

  it('an invalid Range is ignored and the whole blob served (RFC 9110 §14.2)', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await pushBlob(reg.r(), name, blob);
    for (const invalid of ['bytes=5-3', 'bytes=abc', 'bytes=', 'bytes=-', 'bytes=1-2-3', 'bytes=5-3,0-1', 'items=0-1', 'bytes 0-1', 'bytes=0x1-2']) {
      const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', invalid);
      assert.equal(res.status, 200, invalid);
      assert.equal(res.headers['content-range'], undefined, invalid);
      assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0, invalid);
    }
  });

  it('the range unit is case-insensitive and a multi-range request is served whole unless no range overlaps', async () => {
    const name = repoName();
    const blob = randomBlob(100);
    await pushBlob(reg.r(), name, blob);
    const upper = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'Bytes=10-19').expect(206);
    assert.equal(upper.headers['content-range'], 'bytes 10-19/100');
    for (const multi of ['bytes=0-1,5-6', 'bytes=0-1, 500-600', 'bytes=500-600,-5']) {
      const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', multi);
      assert.equal(res.status, 200, multi);
      assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0, multi);
    }
    for (const none of ['bytes=100-', 'bytes=500-600, 200-', 'bytes=-0']) {
      const res = await reg.r().get(`/v2/${name}/blobs/${blob.digest}`).set('Range', none);
      assert.equal(res.status, 416, none);
      assert.equal(res.headers['content-range'], 'bytes */100', none);
    }
  });

  it('an unknown blob is 404 BLOB_UNKNOWN on GET (JSON) and 404 on HEAD', async () => {
    const name = repoName();
    await pushBlob(reg.r(), name, randomBlob(10));
    assertOciError(await reg.r().get(`/v2/${name}/blobs/${unknownDigest()}`), 404, ['BLOB_UNKNOWN']);
    const head = await reg.r().head(`/v2/${name}/blobs/${unknownDigest()}`);
    assert.equal(head.status, 404);
    assert.equal(head.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  it('a blob pushed to another repository is not visible here until linked', async () => {
    const owner = repoName();
    const other = repoName();
    const blob = randomBlob(64);
    await pushBlob(reg.r(), owner, blob);
    await pushBlob(reg.r(), other, randomBlob(8));
    assertOciError(await reg.r().get(`/v2/${other}/blobs/${blob.digest}`), 404, ['BLOB_UNKNOWN']);
    await reg.r().head(`/v2/${other}/blobs/${blob.digest}`).expect(404);
  });

  it('GET in a repository that does not exist is a 404', async () => {
    const res = await reg.r().get(`/v2/${repoName('ghost')}/blobs/${unknownDigest()}`);
    assertOciError(res, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
  });

  it('DELETE answers 202, then the blob is 404 in that repository only', async () => {
    const name = repoName();
    const other = repoName();
    const blob = randomBlob(77);
    await pushBlob(reg.r(), name, blob);
    await pushBlob(reg.r(), other, blob);
    await reg.r().delete(`/v2/${name}/blobs/${blob.digest}`).expect(202);
    assertOciError(await reg.r().get(`/v2/${name}/blobs/${blob.digest}`), 404, ['BLOB_UNKNOWN']);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
    assertOciError(await reg.r().delete(`/v2/${name}/blobs/${blob.digest}`), 404, ['BLOB_UNKNOWN']);
    await reg.r().head(`/v2/${other}/blobs/${blob.digest}`).expect(200);
  });

  it('a deleted blob can be pushed again', async () => {
    const name = repoName();
    const blob = randomBlob(33);
    await pushBlob(reg.r(), name, blob);
    await reg.r().delete(`/v2/${name}/blobs/${blob.digest}`).expect(202);
    await pushBlob(reg.r(), name, blob);
    const res = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0);
  });

  it('a malformed digest in the blob path is a 4xx JSON error', async () => {
    const name = repoName();
    for (const d of ['sha256:xyz', `sha256:${'A'.repeat(64)}`, 'nodigest', `md5:${'a'.repeat(32)}`]) {
      const res = await reg.r().get(`/v2/${name}/blobs/${d}`);
      assertOciError(res, [400, 404], ['DIGEST_INVALID', 'BLOB_UNKNOWN', 'UNSUPPORTED']);
      const del = await reg.r().delete(`/v2/${name}/blobs/${d}`);
      assertOciError(del, [400, 404], ['DIGEST_INVALID', 'BLOB_UNKNOWN', 'UNSUPPORTED']);
    }
  });
});

describe('blob deletes disabled', () => {
  it('DELETE of a blob answers 400 or 405 when deletion is disabled', async () => {
    const reg = await startRegistry({ config: testConfig({ storage: { delete: { enabled: false } } }) });
    try {
      const name = repoName();
      const blob = randomBlob(10);
      await pushBlob(reg.r(), name, blob);
      assertOciError(await reg.r().delete(`/v2/${name}/blobs/${blob.digest}`), [400, 405], ['UNSUPPORTED']);
      await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    } finally {
      await reg.close();
    }
  });
});
