// Spec v1.1.1 "Push" workflow, blobs: monolithic (POST+PUT, single POST) and chunked uploads, mounts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type Client, type Reply, expectError, expectStatus, withQuery } from './client';
import { pushBlob } from './actions';
import { blobOf, randomBlob, uniqueName, unknownDigest, type Blob } from './fixtures';
import { openTarget, type Target } from './target';

/** After a successful upload the `Location` MUST be a pullable blob URL. */
async function assertPullable(client: Client, put: Reply, blob: Blob): Promise<void> {
  const res = await client.get(client.location(put));
  expectStatus(res, 200);
  assert.deepEqual(res.body, blob.data);
}

async function startUpload(client: Client, name: string): Promise<Reply> {
  const res = await client.send('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
  expectStatus(res, 202);
  assert.ok(res.headers.get('location'), 'POST must answer a Location');
  return res;
}

function patch(client: Client, location: URL, data: Buffer, start: number): Promise<Reply> {
  return client.send('PATCH', location, {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + data.length - 1}` },
    body: data,
  });
}

/** Range is `0-<end-of-range>`, the offset of the last byte received. */
function assertRange(res: Reply, lastByte: number): void {
  assert.equal(res.headers.get('range'), `0-${lastByte}`, `Range of ${res.request}`);
}

describe('push', () => {
  let target: Target;
  const name = uniqueName('push');

  before(async () => {
    target = await openTarget();
  });
  after(async () => {
    await target?.close();
  });

  describe('blobs, monolithic', () => {
    test('POST then PUT: 202 with a Location, then 201 with a pullable blob Location', async () => {
      const blob = randomBlob(3000);
      const put = await pushBlob(target.client, name, blob);
      assert.equal(put.headers.get('docker-content-digest') ?? blob.digest, blob.digest);
      await assertPullable(target.client, put, blob);
    });

    test('single POST with ?digest=: 201 and a pullable Location, or 202 and the POST-then-PUT path', async () => {
      const blob = randomBlob(2000);
      const res = await target.client.send('POST', `/v2/${name}/blobs/uploads/?digest=${blob.digest}`, {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob.data,
      });
      expectStatus(res, 201, 202);
      if (target.strict) expectStatus(res, 201);
      if (res.status === 201) return assertPullable(target.client, res, blob);
      const put = await target.client.send('PUT', withQuery(target.client.location(res), { digest: blob.digest }), {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob.data,
      });
      expectStatus(put, 201);
      await assertPullable(target.client, put, blob);
    });

    test('a sha512 digest (registered by the image spec) works like sha256', async (t) => {
      if (!target.strict) return t.skip('the spec does not require sha512');
      const data = randomBlob(1234).data;
      const blob = { data, size: data.length, digest: 'sha512:' + createHash('sha512').update(data).digest('hex') };
      const put = await pushBlob(target.client, name, blob);
      await assertPullable(target.client, put, blob);
      const head = await target.client.head(`/v2/${name}/blobs/${blob.digest}`);
      expectStatus(head, 200);
      assert.equal(head.headers.get('docker-content-digest'), blob.digest);
    });

    test('a zero-byte blob can be pushed and pulled', async () => {
      const blob = blobOf(Buffer.alloc(0));
      const put = await pushBlob(target.client, name, blob);
      const head = await target.client.head(`/v2/${name}/blobs/${blob.digest}`);
      expectStatus(head, 200);
      assert.equal(head.headers.get('content-length'), '0');
      await assertPullable(target.client, put, blob);
    });

    test('PUT with a digest that does not match the bytes: 400 DIGEST_INVALID, and nothing is stored', async () => {
      const blob = randomBlob(1000);
      const wrong = unknownDigest();
      const started = await startUpload(target.client, name);
      const put = await target.client.send('PUT', withQuery(target.client.location(started), { digest: wrong }), {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob.data,
      });
      expectError(put, 400, ['DIGEST_INVALID']);
      expectStatus(await target.client.head(`/v2/${name}/blobs/${wrong}`), 404);
      expectStatus(await target.client.head(`/v2/${name}/blobs/${blob.digest}`), 404);
    });
  });

  describe('blobs, chunked', () => {
    // Each test pushes its own content, so that no test passes on a blob another one stored.
    const BLOB_SIZE = 100_000;
    let chunk = 0;

    before(async () => {
      // "If the registry has a minimum chunk size, the POST response SHOULD include OCI-Chunk-Min-Length".
      const res = await startUpload(target.client, name);
      const min = Number(res.headers.get('oci-chunk-min-length') ?? 0);
      chunk = Math.max(min, 30_000);
      assert.ok(chunk * 2 < BLOB_SIZE, `OCI-Chunk-Min-Length ${min} is too large for this test's blob`);
    });

    test('POST, PATCH chunks in order, PUT with the digest: 202/Range per chunk, 201 and the whole blob', async () => {
      const blob = randomBlob(BLOB_SIZE);
      let res = await startUpload(target.client, name);
      let offset = 0;
      while (offset < blob.size) {
        const part = blob.data.subarray(offset, Math.min(offset + chunk, blob.size));
        res = await patch(target.client, target.client.location(res), part, offset);
        expectStatus(res, 202);
        offset += part.length;
        assertRange(res, offset - 1);
        assert.ok(res.headers.get('location'));
      }
      const put = await target.client.send('PUT', withQuery(target.client.location(res), { digest: blob.digest }));
      expectStatus(put, 201);
      await assertPullable(target.client, put, blob);
    });

    test('the final chunk may come with the closing PUT', async () => {
      const other = randomBlob(BLOB_SIZE);
      const first = other.data.subarray(0, chunk);
      let res = await startUpload(target.client, name);
      res = await patch(target.client, target.client.location(res), first, 0);
      expectStatus(res, 202);
      const rest = other.data.subarray(chunk);
      const put = await target.client.send('PUT', withQuery(target.client.location(res), { digest: other.digest }), {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${chunk}-${other.size - 1}`,
        },
        body: rest,
      });
      expectStatus(put, 201);
      await assertPullable(target.client, put, other);
    });

    test('GET on an upload session: 204 with Location and Range (end-13)', async () => {
      const blob = randomBlob(BLOB_SIZE);
      let res = await startUpload(target.client, name);
      res = await patch(target.client, target.client.location(res), blob.data.subarray(0, chunk), 0);
      expectStatus(res, 202);
      const status = await target.client.get(target.client.location(res));
      expectStatus(status, 204);
      assertRange(status, chunk - 1);
      assert.ok(status.headers.get('location'));
    });

    test('an out-of-order chunk, or a retried earlier chunk: 416, and the session goes on from its real offset', async () => {
      const blob = randomBlob(BLOB_SIZE);
      let res = await startUpload(target.client, name);
      res = await patch(target.client, target.client.location(res), blob.data.subarray(0, chunk), 0);
      expectStatus(res, 202);
      const location = target.client.location(res);

      const gap = await patch(target.client, location, blob.data.subarray(chunk + 10, 2 * chunk), chunk + 10);
      expectStatus(gap, 416);
      const retry = await patch(target.client, location, blob.data.subarray(0, chunk), 0);
      expectStatus(retry, 416);

      // "A GET request may be used to retrieve the current valid offset and upload location."
      const status = await target.client.get(location);
      expectStatus(status, 204);
      assertRange(status, chunk - 1);

      res = await patch(target.client, target.client.location(status), blob.data.subarray(chunk), chunk);
      expectStatus(res, 202);
      assertRange(res, blob.size - 1);
      const put = await target.client.send('PUT', withQuery(target.client.location(res), { digest: blob.digest }));
      expectStatus(put, 201);
      await assertPullable(target.client, put, blob);
    });

    test('an unknown upload session: 404 on GET, PATCH and PUT', async () => {
      const started = await startUpload(target.client, name);
      const loc = target.client.location(started);
      // Same repository, a session id nobody issued.
      const bogus = new URL(`/v2/${name}/blobs/uploads/00000000-0000-4000-8000-000000000000`, loc);
      // BLOB_UPLOAD_UNKNOWN fits best; Distribution answers BLOB_UPLOAD_INVALID for an id without its state.
      const codes = ['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID'];
      expectError(await target.client.get(bogus), 404, codes);
      expectError(await patch(target.client, bogus, Buffer.from('abc'), 0), 404, codes);
      expectError(await target.client.send('PUT', withQuery(bogus, { digest: unknownDigest() })), 404, codes);
    });
  });

  describe('mounting a blob from another repository', () => {
    const source = uniqueName('push-source');

    test('?mount=&from=: 201 with a Location, and the blob is then in the target repository', async () => {
      const blob = randomBlob(5000);
      await pushBlob(target.client, source, blob);
      const into = uniqueName('push-mount');
      const res = await target.client.send('POST', `/v2/${into}/blobs/uploads/?mount=${blob.digest}&from=${source}`, {
        headers: { 'Content-Length': '0' },
      });
      expectStatus(res, 201);
      await assertPullable(target.client, res, blob);
      const head = await target.client.head(`/v2/${into}/blobs/${blob.digest}`);
      expectStatus(head, 200);
    });

    test('?mount= without from: 201 if the registry finds the blob itself, otherwise 202 and an upload session', async () => {
      const blob = randomBlob(5000);
      await pushBlob(target.client, source, blob);
      const into = uniqueName('push-automount');
      const res = await target.client.send('POST', `/v2/${into}/blobs/uploads/?mount=${blob.digest}`, { headers: { 'Content-Length': '0' } });
      expectStatus(res, 201, 202);
      if (target.strict) expectStatus(res, 201);
      if (res.status === 201) return assertPullable(target.client, res, blob);
      const put = await target.client.send('PUT', withQuery(target.client.location(res), { digest: blob.digest }), { body: blob.data });
      expectStatus(put, 201);
    });

    test('a mount the registry cannot do: 202 and a usable upload session', async () => {
      const blob = randomBlob(500);
      const res = await target.client.send('POST', `/v2/${name}/blobs/uploads/?mount=${blob.digest}&from=${source}`, {
        headers: { 'Content-Length': '0' },
      });
      expectStatus(res, 202);
      const put = await target.client.send('PUT', withQuery(target.client.location(res), { digest: blob.digest }), {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob.data,
      });
      expectStatus(put, 201);
      await assertPullable(target.client, put, blob);
    });
  });
});
