import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { fetchBlobDigest } from '../helpers/registry-client';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { berthS3Env, startBerthOnS3, type BerthOnS3 } from '../s3/berth-on-s3';
import { s3Operation, startCountingProxy, type CountingProxy } from '../s3/counting-proxy';
import { finishUpload, patchChunk, randomBlob, repoName, startUpload } from './oci-http';

const MiB = 1024 * 1024;
const skip = rgwSkipReason();

/**
 * docs/architecture.md, "Uploads": on S3 with a shared secret (storage.uploads.hashstate auto), a
 * PATCH saves the upload's running sha256 beside it, so that the closing PUT on another replica, or
 * after a restart, does not download the upload from S3 to hash it. The replicas reach RGW through
 * a counting proxy, which shows whether the upload's data was read.
 */
describe('resumable upload hashes across replicas on S3', { skip, timeout: 300_000 }, () => {
  let rgw: Rgw;
  let proxy: CountingProxy;
  let a: BerthOnS3;
  const others: BerthProcess[] = [];
  const env = { REGISTRY_HTTP_SECRET: 'hash-state-test-secret-0123456789' };

  /** Another Berth process on A's bucket, through the proxy. */
  async function replica(): Promise<BerthProcess> {
    const p = await startBerthProcess({ env: { ...berthS3Env({ ...rgw, endpoint: proxy.url }, a.bucket, { redirect: false }), ...env } });
    others.push(p);
    return p;
  }

  /** GetObject requests for an upload's data since `from` (the commit's re-read). */
  function uploadDataReads(from: number): string[] {
    return proxy.requests
      .slice(from)
      .filter((r) => s3Operation(r) === 'GetObject' && /\/_uploads\/[^/]+\/data(\?|$)/.test(r.url))
      .map((r) => r.url);
  }

  async function patchAll(base: string, name: string, data: Buffer, chunk: number): Promise<string> {
    let loc = await startUpload(base, name);
    for (let offset = 0; offset < data.length; offset += chunk)
      loc = (await patchChunk(base, loc, offset, data.subarray(offset, offset + chunk))).location;
    return loc;
  }

  before(async () => {
    rgw = await acquireRgw();
    proxy = await startCountingProxy(rgw.endpoint);
    a = await startBerthOnS3(rgw, { redirect: false, endpoint: proxy.url, env });
  });
  after(async () => {
    await Promise.all(others.map((p) => p.stop()));
    await a?.stop();
    await proxy?.close();
    await releaseRgw();
  });

  it('PATCHes on A, PUT on B: B commits without reading the upload from S3', async () => {
    const b = await replica();
    const name = repoName('hashstate');
    const blob = randomBlob(18 * MiB);
    const loc = await patchAll(a.url, name, blob.data, 6 * MiB);
    const from = proxy.requests.length;
    assert.equal(await finishUpload(b.url, loc, blob.digest), blob.digest);
    assert.deepEqual(uploadDataReads(from), []);
    assert.equal(await fetchBlobDigest(b.url, name, blob.digest), blob.digest);
  });

  it('PATCH on B, restart of B, PUT on the new B: no read either, and a wrong digest is still refused', async () => {
    const b = await replica();
    const name = repoName('hashstate');
    const blob = randomBlob(9 * MiB);
    const loc = await patchAll(b.url, name, blob.data, 9 * MiB);
    await b.stop();
    const restarted = await replica();
    const wrong = new URL(`${restarted.url}${new URL(loc, restarted.url).pathname}${new URL(loc, restarted.url).search}`);
    wrong.searchParams.set('digest', randomBlob(16).digest);
    assert.equal((await fetch(wrong, { method: 'PUT' })).status, 400);
    // The refused digest ended the session: upload again, and commit after another restart.
    const again = await patchAll(restarted.url, name, blob.data, 9 * MiB);
    await restarted.stop();
    const from = proxy.requests.length;
    const third = await replica();
    assert.equal(await finishUpload(third.url, again, blob.digest), blob.digest);
    assert.deepEqual(uploadDataReads(from), []);
    assert.equal(await fetchBlobDigest(third.url, name, blob.digest), blob.digest);
  });
});
