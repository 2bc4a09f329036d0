import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { paths } from '../../src/oci/paths';
import { getRaw, pushBlob, randomBlob, repoName, unknownDigest } from './helpers';
import { assertOciError, pathOf, rawRequest, startRegistry, useRegistry, withQuery } from './server';

/** Spec "Pushing a blob in chunks", end-5/end-13, upload cancel, and cross-repository mount (end-11). */
describe('chunked upload sessions', () => {
  const reg = useRegistry();

  async function startSession(name: string): Promise<string> {
    const res = await reg.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    return res.headers.location;
  }

  function patch(location: string, range: string, body: Buffer) {
    return reg.r().patch(pathOf(location)).set('Content-Type', 'application/octet-stream').set('Content-Range', range).send(body);
  }

  it('ranged PATCHes: 202 with Range 0-N (no bytes=), Location and Docker-Upload-UUID; 416 on gaps and overlaps', async () => {
    const name = repoName();
    const blob = randomBlob(250);
    let location = await startSession(name);

    const first = await patch(location, '0-99', blob.data.subarray(0, 100)).expect(202);
    assert.equal(first.headers.range, '0-99');
    assert.ok(first.headers['docker-upload-uuid']);
    assert.ok(pathOf(first.headers.location).includes(first.headers['docker-upload-uuid']));
    location = first.headers.location;

    // "If a chunk is uploaded out of order, the registry MUST respond with a 416"
    const gap = await patch(location, '150-249', blob.data.subarray(150, 250));
    assertOciError(gap, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(gap.headers.range, '0-99');
    assert.ok(gap.headers.location, '416 must say where the session is');

    const overlap = await patch(gap.headers.location, '50-149', blob.data.subarray(50, 150));
    assertOciError(overlap, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(overlap.headers.range, '0-99');

    const second = await patch(overlap.headers.location, '100-199', blob.data.subarray(100, 200)).expect(202);
    assert.equal(second.headers.range, '0-199');

    // Re-sending an accepted chunk is out of order too (the conformance suite checks this).
    const resent = await patch(second.headers.location, '100-199', blob.data.subarray(100, 200));
    assertOciError(resent, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(resent.headers.range, '0-199');

    const status = await reg.r().get(pathOf(second.headers.location)).expect(204);
    assert.equal(status.headers.range, '0-199');
    assert.ok(status.headers.location);
    assert.equal(status.headers['docker-upload-uuid'], first.headers['docker-upload-uuid']);

    // The final chunk may ride on the closing PUT.
    await reg
      .r()
      .put(pathOf(withQuery(status.headers.location, 'digest', blob.digest)))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', '200-249')
      .send(blob.data.subarray(200))
      .expect(201);
    const pulled = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(pulled.body as Buffer, blob.data) === 0);
  });

  it('the first chunk must start at 0', async () => {
    const name = repoName();
    const location = await startSession(name);
    const res = await patch(location, '10-19', Buffer.alloc(10, 1));
    assertOciError(res, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(res.headers.range, '0-0');
  });

  it('a Content-Length that does not match the Content-Range is rejected (416 or 400 SIZE_INVALID)', async () => {
    const name = repoName();
    const location = await startSession(name);
    const res = await patch(location, '0-99', Buffer.alloc(50, 7));
    assert.ok([400, 416].includes(res.status), `got ${res.status}`);
    assertOciError(res, [400, 416], res.status === 400 ? ['SIZE_INVALID'] : ['BLOB_UPLOAD_INVALID']);
    const status = await reg.r().get(pathOf(location)).expect(204);
    assert.equal(status.headers.range, '0-0', 'a rejected chunk must not be kept');
  });

  it('a closing PUT whose Content-Range does not start at the current offset is 416', async () => {
    const name = repoName();
    const blob = randomBlob(200);
    const location = await startSession(name);
    const first = await patch(location, '0-99', blob.data.subarray(0, 100)).expect(202);
    const res = await reg
      .r()
      .put(pathOf(withQuery(first.headers.location, 'digest', blob.digest)))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', '150-199')
      .send(blob.data.subarray(150));
    assertOciError(res, 416, ['BLOB_UPLOAD_INVALID']);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
    assert.equal(res.headers.range, '0-99');
    assert.ok(res.headers.location, '416 must say where the session is');
  });

  it('after an out-of-order closing PUT the session lives on: status through that URL, then a good close (conformance flow)', async () => {
    const name = repoName();
    const blob = randomBlob(300);
    const location = await startSession(name);
    const first = await patch(location, '0-99', blob.data.subarray(0, 100)).expect(202);
    const putUrl = pathOf(withQuery(first.headers.location, 'digest', blob.digest));
    // Ahead of the upload, then back to its beginning: both out of order.
    for (const [from, to] of [[200, 299], [0, 199]]) {
      const bad = await reg
        .r()
        .put(putUrl)
        .set('Content-Type', 'application/octet-stream')
        .set('Content-Range', `${from}-${to}`)
        .send(blob.data.subarray(from, to + 1));
      assertOciError(bad, 416, ['BLOB_UPLOAD_INVALID']);
      assert.equal(bad.headers.range, '0-99');
      // The suite asks for the status on the URL it sent the PUT to, digest parameter and all.
      const status = await reg.r().get(putUrl).expect(204);
      assert.equal(status.headers.range, '0-99', 'a rejected final chunk must not be kept');
    }
    await reg
      .r()
      .put(putUrl)
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', '100-299')
      .send(blob.data.subarray(100))
      .expect(201);
    const pulled = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.ok(Buffer.compare(pulled.body as Buffer, blob.data) === 0);
  });

  it('a malformed Content-Range is a 4xx JSON error, never a 500', async () => {
    const name = repoName();
    const location = await startSession(name);
    for (const range of ['bytes=abc', '99-0', '-5', '0-']) {
      const res = await patch(location, range, Buffer.alloc(5));
      assertOciError(res, [400, 416], ['SIZE_INVALID', 'BLOB_UPLOAD_INVALID']);
    }
  });

  it('a 416 for a malformed Content-Range reports how far the session really got, with a usable Location', async () => {
    const name = repoName();
    const blob = randomBlob(10);
    const location = await startSession(name);
    const first = await patch(location, '0-4', blob.data.subarray(0, 5)).expect(202);
    for (const send of [
      () => patch(first.headers.location, 'garbage', blob.data.subarray(5)),
      () => reg.r().put(pathOf(withQuery(first.headers.location, 'digest', blob.digest))).set('Content-Range', '9-5').send(blob.data.subarray(5)),
    ]) {
      const res = await send();
      assertOciError(res, 416, ['BLOB_UPLOAD_INVALID']);
      assert.equal(res.headers.range, '0-4');
      const status = await reg.r().get(pathOf(res.headers.location)).expect(204);
      assert.equal(status.headers.range, '0-4');
    }
    const second = await patch(first.headers.location, '5-9', blob.data.subarray(5)).expect(202);
    await reg.r().put(pathOf(withQuery(second.headers.location, 'digest', blob.digest))).expect(201);
  });

  it('GET status of a fresh session is 204 with Range 0-0 (Distribution\'s form for an empty upload)', async () => {
    // The spec's form is `0-<end-of-range>`; with no byte yet, Distribution (and every client that
    // parses `%d-%d`) uses 0-0, never a negative end.
    const name = repoName();
    const location = await startSession(name);
    const res = await reg.r().get(pathOf(location)).expect(204);
    assert.equal(res.headers.range, '0-0');
    assert.ok(res.headers.location);
    assert.ok(res.headers['docker-upload-uuid']);
  });

  it('DELETE cancels a session: 204, then 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const name = repoName();
    const location = await startSession(name);
    await patch(location, '0-9', Buffer.alloc(10, 3)).expect(202);
    await reg.r().delete(pathOf(location)).expect(204);
    assertOciError(await reg.r().get(pathOf(location)), 404, ['BLOB_UPLOAD_UNKNOWN']);
    assertOciError(await patch(location, '10-19', Buffer.alloc(10, 3)), 404, ['BLOB_UPLOAD_UNKNOWN']);
    assertOciError(await reg.r().delete(pathOf(location)), 404, ['BLOB_UPLOAD_UNKNOWN']);
  });

  it('an unknown upload id is 404 on GET, PATCH, PUT and DELETE', async () => {
    const name = repoName();
    // An id nobody issued comes without a _state (nobody could sign one): refused as such, as Distribution does.
    for (const [id, codes] of [[randomUUID(), ['BLOB_UPLOAD_INVALID']], ['not-a-uuid', ['BLOB_UPLOAD_UNKNOWN']]] as const) {
      const path = `/v2/${name}/blobs/uploads/${id}`;
      assertOciError(await reg.r().get(path), 404, [...codes]);
      assertOciError(await patch(path, '0-1', Buffer.alloc(2)), 404, [...codes]);
      assertOciError(await reg.r().put(`${path}?digest=${unknownDigest()}`).send(Buffer.alloc(2)), [400, 404], [...codes]);
      assertOciError(await reg.r().delete(path), 404, [...codes]);
    }
  });

  it('a tampered _state is rejected with a 404 JSON error and the session survives', async () => {
    const name = repoName();
    const location = await startSession(name);
    const url = new URL(location);
    const state = url.searchParams.get('_state');
    assert.ok(state, 'the Location carries a _state');
    const flipped = state[5] === 'A' ? 'B' : 'A';
    for (const bad of [`${state.slice(0, 5)}${flipped}${state.slice(6)}`, `${state}x`, 'garbage', '']) {
      const tampered = withQuery(location, '_state', bad);
      assertOciError(await reg.r().get(pathOf(tampered)), 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
      assertOciError(await patch(tampered, '0-1', Buffer.alloc(2)), 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
    }
    await reg.r().get(pathOf(location)).expect(204);
  });

  it('a session\'s uuid without its _state is refused like a tampered one (404) on GET, PATCH, PUT and DELETE', async () => {
    const name = repoName();
    const blob = randomBlob(10);
    const location = await startSession(name);
    await patch(location, '0-4', blob.data.subarray(0, 5)).expect(202);
    // What a uuid leaked through a log or a Docker-Upload-UUID header gives: the path alone.
    const bare = new URL(location).pathname;
    assertOciError(await reg.r().get(bare), 404, ['BLOB_UPLOAD_INVALID']);
    assertOciError(await patch(bare, '5-9', blob.data.subarray(5)), 404, ['BLOB_UPLOAD_INVALID']);
    assertOciError(await reg.r().put(`${bare}?digest=${blob.digest}`).send(blob.data.subarray(5)), 404, ['BLOB_UPLOAD_INVALID']);
    assertOciError(await reg.r().delete(bare), 404, ['BLOB_UPLOAD_INVALID']);
    // The session is untouched: the Location the client holds still works.
    const status = await reg.r().get(pathOf(location)).expect(204);
    assert.equal(status.headers.range, '0-4');
    await reg.r().put(pathOf(withQuery(location, 'digest', blob.digest))).send(blob.data.subarray(5)).expect(201);
  });

  it('a session cannot be continued under another repository name', async () => {
    const name = repoName();
    const other = repoName();
    const location = await startSession(name);
    const moved = pathOf(location).replace(`/v2/${name}/`, `/v2/${other}/`);
    assertOciError(await reg.r().get(moved), 404, ['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);
  });

  it('a PUT after the session was committed is 404 BLOB_UPLOAD_UNKNOWN', async () => {
    const name = repoName();
    const blob = randomBlob(64);
    const location = await startSession(name);
    await reg.r().put(pathOf(withQuery(location, 'digest', blob.digest))).send(blob.data).expect(201);
    assertOciError(await reg.r().get(pathOf(location)), 404, ['BLOB_UPLOAD_UNKNOWN']);
    assertOciError(await reg.r().put(pathOf(withQuery(location, 'digest', blob.digest))).send(blob.data), 404, ['BLOB_UPLOAD_UNKNOWN']);
  });

  it('a retried PUT whose first try moved the data into place and died before ending the session is 201', async () => {
    const driver = createMemoryDriver();
    const own = await startRegistry({ driver });
    try {
      const name = repoName();
      const blob = randomBlob(5000);
      const start = await own.r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
      const location: string = start.headers.location;
      const uuid = new URL(location, own.url).pathname.split('/').pop()!;
      const marker = await driver.getContent(paths.uploadStartedAt(name, uuid));
      await own.r().put(pathOf(withQuery(location, 'digest', blob.digest))).send(blob.data).expect(201);
      // What the first try leaves when it dies just after the move: the session, without its data.
      await driver.putContent(paths.uploadStartedAt(name, uuid), marker);
      assert.equal((await own.r().get(pathOf(location)).expect(204)).headers.range, '0-0');
      const retry = await own.r().put(pathOf(withQuery(location, 'digest', blob.digest)));
      assert.equal(retry.status, 201, retry.text);
      assert.equal(retry.headers['docker-content-digest'], blob.digest);
      assert.deepEqual((await own.r().get(`/v2/${name}/blobs/${blob.digest}`).buffer(true).expect(200)).body, blob.data);
      assertOciError(await own.r().get(pathOf(location)), 404, ['BLOB_UPLOAD_UNKNOWN']);
      // An empty session still proves nothing about a blob this repository does not hold.
      const other = await own.r().post(`/v2/${repoName()}/blobs/uploads/`).set('Content-Length', '0').expect(202);
      assertOciError(await own.r().put(pathOf(withQuery(other.headers.location, 'digest', blob.digest))), 400, ['DIGEST_INVALID']);
    } finally {
      await own.close();
    }
  });

  it('streamed PATCHes can follow each other and be mixed with a ranged one', async () => {
    const name = repoName();
    const blob = randomBlob(30_000);
    const location = await startSession(name);
    const a = await rawRequest(reg.url, { method: 'PATCH', path: pathOf(location), chunks: [blob.data.subarray(0, 5000), blob.data.subarray(5000, 10_000)] });
    assert.equal(a.status, 202);
    assert.equal(a.headers.range, '0-9999');
    const b = await patch(a.headers.location as string, '10000-19999', blob.data.subarray(10_000, 20_000)).expect(202);
    assert.equal(b.headers.range, '0-19999');
    const c = await rawRequest(reg.url, { method: 'PATCH', path: pathOf(b.headers.location), chunks: [blob.data.subarray(20_000)] });
    assert.equal(c.status, 202);
    assert.equal(c.headers.range, `0-${blob.size - 1}`);
    await reg.r().put(pathOf(withQuery(c.headers.location as string, 'digest', blob.digest))).expect(201);
    await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
  });
});

describe('cross-repository mount', () => {
  const reg = useRegistry();

  it('mount with from= answers 201 with Location and Docker-Content-Digest', async () => {
    const source = repoName('src');
    const target = repoName('dst');
    const blob = randomBlob(1000);
    await pushBlob(reg.r(), source, blob);
    await reg.r().head(`/v2/${target}/blobs/${blob.digest}`).expect(404);
    const res = await reg.r().post(`/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${source}`).set('Content-Length', '0').expect(201);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal(pathOf(res.headers.location), `/v2/${target}/blobs/${blob.digest}`);
    const pulled = await getRaw(reg.r(), pathOf(res.headers.location)).expect(200);
    assert.ok(Buffer.compare(pulled.body as Buffer, blob.data) === 0);
  });

  it('mount without from= finds the blob in any repository (automatic cross-mount)', async () => {
    const source = repoName('src');
    const target = repoName('dst');
    const blob = randomBlob(1000);
    await pushBlob(reg.r(), source, blob);
    const res = await reg.r().post(`/v2/${target}/blobs/uploads/?mount=${blob.digest}`).set('Content-Length', '0').expect(201);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    await reg.r().head(`/v2/${target}/blobs/${blob.digest}`).expect(200);
  });

  it('mount without from= finds a blob pushed by its sha512 digest too', async () => {
    const source = repoName('src');
    const target = repoName('dst');
    const blob = randomBlob(1000, 'sha512');
    await pushBlob(reg.r(), source, blob);
    const res = await reg.r().post(`/v2/${target}/blobs/uploads/?mount=${blob.digest}`).set('Content-Length', '0').expect(201);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal(pathOf(res.headers.location), `/v2/${target}/blobs/${blob.digest}`);
    const pulled = await getRaw(reg.r(), pathOf(res.headers.location)).expect(200);
    assert.ok(Buffer.compare(pulled.body as Buffer, blob.data) === 0);
    assert.equal(pulled.headers['docker-content-digest'], blob.digest);
  });

  it('mount of an unknown blob opens a normal session (202) that can complete the push', async () => {
    const source = repoName('src');
    const target = repoName('dst');
    const blob = randomBlob(1000);
    const res = await reg.r().post(`/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${source}`).set('Content-Length', '0').expect(202);
    assert.ok(res.headers.location);
    await reg.r().put(pathOf(withQuery(res.headers.location, 'digest', blob.digest))).send(blob.data).expect(201);
    await reg.r().head(`/v2/${target}/blobs/${blob.digest}`).expect(200);
  });

  it('mount with a malformed digest is a 400', async () => {
    const res = await reg.r().post(`/v2/${repoName()}/blobs/uploads/?mount=sha256:nothex&from=${repoName()}`).set('Content-Length', '0');
    assertOciError(res, 400, ['DIGEST_INVALID']);
  });
});
