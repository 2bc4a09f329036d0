import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { digestOf, getRaw, pushBlob, pushImage, randomBlob, type Image } from '../api/helpers';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { until } from '../mirror/fetch-fixtures';
import { startGate, type UpstreamGate } from '../mirror/upstream-gate';
import { berthS3Env, startBerthOnS3, type BerthOnS3 } from './berth-on-s3';

/*
 * The pull-through mirror on S3 storage, with two replicas on one bucket: what the filesystem suites
 * show (single flight, nothing cached from a broken upstream, the cache serving while the upstream is
 * down) must hold where a commit is a multipart upload and another process shares the store.
 */

const MiB = 1024 * 1024;
const UPSTREAM_REPO = 'library/app';
const NAME = `up.test/${UPSTREAM_REPO}`;
const CLIENTS_PER_REPLICA = 6;

const skip = rgwSkipReason();

describe('mirror on S3, two replicas sharing the bucket', { skip, timeout: 300_000 }, () => {
  let rgw: Rgw;
  let work = '';
  let dist: DistributionProcess | undefined;
  let gate: UpstreamGate | undefined;
  let a: BerthOnS3 | undefined;
  let b: BerthProcess | undefined;
  let image: Image;
  let skipReason: string | undefined;

  const mirrorEnv = (spool: string) => ({
    REGISTRY_MIRRORS: JSON.stringify([{ prefix: 'up.test', url: gate!.url }]),
    REGISTRY_MIRROR_SPOOLDIRECTORY: path.join(work, spool),
  });
  /** GETs of a blob the upstream received (through the gate). */
  const upstreamGets = (digest: string) => gate!.requests.filter((r) => r.method === 'GET' && r.url.endsWith(`/blobs/${digest}`)).length;
  const blobKey = (digest: string) => `docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

  before(async () => {
    skipReason = await distributionSkipReason();
    if (skipReason) return;
    rgw = await acquireRgw();
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-s3-'));
    dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
    image = await pushImage(request.agent(dist.url), UPSTREAM_REPO, 'v1');
    gate = await startGate(dist.url);
    a = await startBerthOnS3(rgw, { redirect: false, env: mirrorEnv('spool-a') });
    b = await startBerthProcess({ env: { ...berthS3Env(rgw, a.bucket, { redirect: false }), ...mirrorEnv('spool-b') } });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await gate?.close();
    await dist?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    if (rgw) await releaseRgw();
  });

  test('an image by tag through one replica is served by the other from the bucket while the upstream is down', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const ra = request.agent(a!.url);
    const m = await getRaw(ra, `/v2/${NAME}/manifests/v1`).set('Accept', image.manifest.mediaType).expect(200);
    assert.equal(m.headers['docker-content-digest'], image.manifest.digest);
    for (const blob of [image.config, image.layer]) {
      const got = await getRaw(ra, `/v2/${NAME}/blobs/${blob.digest}`).expect(200);
      assert.equal(digestOf(got.body as Buffer), blob.digest);
    }
    assert.ok((await a!.keys(blobKey(image.layer.digest))).length === 1, 'the layer is in the bucket');

    gate!.target = undefined;
    try {
      const rb = request.agent(b!.url);
      const byDigest = await getRaw(rb, `/v2/${NAME}/manifests/${image.manifest.digest}`).set('Accept', image.manifest.mediaType).expect(200);
      assert.ok((byDigest.body as Buffer).equals(image.manifest.data));
      const byTag = await getRaw(rb, `/v2/${NAME}/manifests/v1`).set('Accept', image.manifest.mediaType).expect(200);
      assert.equal(byTag.headers['docker-content-digest'], image.manifest.digest, 'the tag is served stale while the upstream is down');
      const layer = await getRaw(rb, `/v2/${NAME}/blobs/${image.layer.digest}`).expect(200);
      assert.ok((layer.body as Buffer).equals(image.layer.data));
    } finally {
      gate!.target = dist!.url;
    }
  });

  test(`${CLIENTS_PER_REPLICA} clients on each replica pull one cold blob: at most one upstream fetch per replica, right bytes, one stored copy`, async (t) => {
    if (skipReason) return t.skip(skipReason);
    const big = randomBlob(24 * MiB);
    await pushBlob(request.agent(dist!.url), UPSTREAM_REPO, big);
    const pulls = [a!.url, b!.url].flatMap((url) =>
      Array.from({ length: CLIENTS_PER_REPLICA }, () => getRaw(request.agent(url), `/v2/${NAME}/blobs/${big.digest}`)),
    );
    const answers = await Promise.all(pulls);
    for (const res of answers) {
      assert.equal(res.status, 200);
      assert.equal(digestOf(res.body as Buffer), big.digest);
    }
    const fetches = upstreamGets(big.digest);
    assert.ok(fetches >= 1 && fetches <= 2, `${fetches} upstream GETs for ${2 * CLIENTS_PER_REPLICA} clients on 2 replicas`);
    assert.deepEqual(await a!.keys(blobKey(big.digest)), [blobKey(big.digest)]);
    // Both replicas' commits are done once their clients have every byte: no multipart upload is left.
    assert.deepEqual(await a!.openMultipartUploads(), []);
    assert.deepEqual(await readdir(path.join(work, 'spool-a')), []);
    assert.deepEqual(await readdir(path.join(work, 'spool-b')), []);
  });

  test('the upstream cut mid-blob: the client sees a cut response, nothing is in the bucket, the next pull gets every byte', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const big = randomBlob(16 * MiB);
    await pushBlob(request.agent(dist!.url), UPSTREAM_REPO, big);
    gate!.cutBlobAfter = 6 * MiB;
    let received = 0;
    let completed = false;
    try {
      await new Promise<void>((resolve) => {
        http.get(`${a!.url}/v2/${NAME}/blobs/${big.digest}`, (res) => {
          assert.equal(res.statusCode, 200);
          res.on('data', (c: Buffer) => (received += c.length));
          res.on('end', () => (completed = true));
          res.on('error', () => resolve());
          res.on('close', () => resolve());
        });
      });
    } finally {
      gate!.cutBlobAfter = undefined;
    }
    assert.equal(completed, false, 'a cut blob never ends cleanly');
    assert.ok(received < big.size, `the client got ${received} of ${big.size} bytes`);
    // The failed commit's multipart upload is aborted when the session is discarded.
    await until(async () => (await a!.openMultipartUploads()).length === 0, 20_000);
    assert.deepEqual(await a!.keys(blobKey(big.digest)), []);
    const head = await request.agent(b!.url).head(`/v2/${NAME}/blobs/${big.digest}`);
    assert.equal(head.status, 200, 'a HEAD of an uncached blob asks the upstream');

    const again = await getRaw(request.agent(b!.url), `/v2/${NAME}/blobs/${big.digest}`).expect(200);
    assert.equal(digestOf(again.body as Buffer), big.digest);
    assert.deepEqual(await a!.keys(blobKey(big.digest)), [blobKey(big.digest)]);
  });
});
