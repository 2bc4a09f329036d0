import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchBlobDigest, fetchManifest } from '../helpers/registry-client';
import { describeOnStores, loggedErrors, withClusterLogs } from './cluster';
import {
  finishUpload,
  getManifest,
  imageManifest,
  listTags,
  patchChunk,
  patchStreamed,
  pushChunked,
  pushMonolithic,
  putManifest,
  randomBlob,
  repoName,
  startUpload,
  uploadStatus,
  type Blob,
  type Manifest,
} from './oci-http';

describeOnStores('replicas speaking HTTP', { timeout: 300_000 }, (cluster) => {
  const replicaUrls = () => cluster().replicas.map((r) => r.url);

  async function assertBlobOnEveryReplica(name: string, digest: string): Promise<void> {
    for (const url of [...replicaUrls(), cluster().proxy.url]) assert.equal(await fetchBlobDigest(url, name, digest), digest, `${digest} from ${url}`);
  }

  test('an upload started on one replica continues and completes on the other', () =>
    withClusterLogs(cluster(), async () => {
      const [a, b] = replicaUrls();
      const name = repoName('upload');
      const blob = randomBlob(3 * 256 * 1024 + 17);
      const [c1, c2, c3] = [blob.data.subarray(0, 262_144), blob.data.subarray(262_144, 524_288), blob.data.subarray(524_288)];

      let loc = await startUpload(a, name);
      assert.equal(await uploadStatus(b, loc), '0-0', 'the new session is visible on B');
      let step = await patchChunk(b, loc, 0, c1);
      assert.equal(step.range, `0-${c1.length - 1}`);
      step = await patchChunk(a, step.location, c1.length, c2);
      assert.equal(step.range, `0-${c1.length + c2.length - 1}`);
      assert.equal(await uploadStatus(b, step.location), step.range);
      // The last chunk comes with the closing PUT, on the other replica again.
      assert.equal(await finishUpload(b, step.location, blob.digest, c3), blob.digest);
      await assertBlobOnEveryReplica(name, blob.digest);

      // The Docker engine's shape: POST, one streamed PATCH without Content-Range, then PUT elsewhere.
      const streamed = randomBlob(700_000);
      loc = await startUpload(b, name);
      step = await patchStreamed(a, loc, streamed.data);
      assert.equal(step.range, `0-${streamed.data.length - 1}`);
      assert.equal(await finishUpload(b, step.location, streamed.digest), streamed.digest);
      await assertBlobOnEveryReplica(name, streamed.digest);
    }));

  test('through the proxy, consecutive requests of one upload land on different replicas', () =>
    withClusterLogs(cluster(), async () => {
      const { proxy } = cluster();
      const name = repoName('proxied');
      const blob = randomBlob(4 * 100_000);
      proxy.reset();
      let loc = await startUpload(proxy.url, name);
      for (let i = 0; i < 4; i++) {
        const chunk = blob.data.subarray(i * 100_000, (i + 1) * 100_000);
        const step = await patchChunk(proxy.url, loc, i * 100_000, chunk);
        assert.equal(step.range, `0-${(i + 1) * 100_000 - 1}`);
        loc = step.location;
      }
      assert.equal(await uploadStatus(proxy.url, loc), `0-${blob.data.length - 1}`);
      assert.equal(await finishUpload(proxy.url, loc, blob.digest), blob.digest);

      const session = proxy.requests().filter((r) => r.url.startsWith(`/v2/${name}/blobs/uploads/`));
      assert.deepEqual(
        session.map((r) => `${r.method} ${r.status}`),
        ['POST 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'PATCH 202', 'GET 204', 'PUT 201'],
      );
      for (let i = 1; i < session.length; i++)
        assert.notEqual(session[i].backend, session[i - 1].backend, `request ${i} of the upload went to the same replica as the one before`);
      assert.ok(proxy.counts().every((n) => n > 0), `every replica served the upload: ${proxy.counts().join(',')}`);
      await assertBlobOnEveryReplica(name, blob.digest);
    }));

  test('a tag pushed on one replica is seen on the other at once, every time it moves', () =>
    withClusterLogs(cluster(), async () => {
      const urls = replicaUrls();
      const name = repoName('tags');
      const layer = randomBlob(2048);
      await pushMonolithic(urls[0], name, layer);
      const earlier: string[] = [];
      for (let i = 0; i < 12; i++) {
        const writer = urls[i % urls.length];
        const reader = urls[(i + 1) % urls.length];
        const config = randomBlob(64);
        await pushMonolithic(writer, name, config);
        const manifest = imageManifest(config, [layer]);
        assert.equal(await putManifest(writer, name, 'moving', manifest), manifest.digest);

        const seen = await getManifest(reader, name, 'moving');
        assert.equal(seen.status, 200, `move ${i}: ${seen.body.toString('utf8')}`);
        assert.equal(seen.digest, manifest.digest, `move ${i}: the other replica still serves the old digest`);
        assert.deepEqual(seen.body, manifest.bytes);
        const head = await fetch(`${reader}/v2/${name}/manifests/moving`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(head.headers.get('docker-content-digest'), manifest.digest, `move ${i}: HEAD on the other replica`);
        assert.deepEqual(await listTags(reader, name), ['moving']);
        for (const old of earlier) assert.equal((await getManifest(reader, name, old)).status, 200, `an earlier manifest ${old} by digest`);
        earlier.push(manifest.digest);
      }
    }));

  test('a blob pushed through one replica mounts into another repository through the other', () =>
    withClusterLogs(cluster(), async () => {
      const [a, b] = replicaUrls();
      const from = repoName('mount-src');
      const to = repoName('mount-dst');
      const blob = randomBlob(10_000);
      await pushMonolithic(a, from, blob);
      const res = await fetch(`${b}/v2/${to}/blobs/uploads/?mount=${blob.digest}&from=${from}`, { method: 'POST' });
      assert.equal(res.status, 201, await res.text());
      assert.equal(res.headers.get('docker-content-digest'), blob.digest);
      await assertBlobOnEveryReplica(to, blob.digest);
    }));

  test('concurrent pushes of the same blobs and tags through both replicas leave no broken link', () =>
    withClusterLogs(cluster(), async () => {
      const { proxy } = cluster();
      const urls = replicaUrls();
      const name = repoName('storm');
      const TAGS = ['t0', 't1', 't2'];
      const PUSHERS = 8;
      const shared: Blob = randomBlob(600_000);
      proxy.reset();

      // Every pusher uploads the same layer (chunked through the proxy, or monolithic straight to a
      // replica), then its own config, then points every tag at its own manifest.
      const candidates = new Map<string, Manifest>();
      const pusher = async (p: number): Promise<void> => {
        if (p % 2 === 0) await pushChunked([proxy.url], name, shared);
        else await pushMonolithic(urls[p % urls.length], name, shared);
        const config = randomBlob(100 + p);
        await pushChunked(p % 4 < 2 ? [urls[0], urls[1]] : [urls[1], urls[0]], name, config);
        const manifest = imageManifest(config, [shared]);
        candidates.set(manifest.digest, manifest);
        await Promise.all(TAGS.map((tag, t) => putManifest((p + t) % 2 === 0 ? proxy.url : urls[(p + t) % urls.length], name, tag, manifest)));
      };

      // Meanwhile readers hammer the tags on both replicas: a tag is either not there yet or whole.
      let storming = true;
      const bad: string[] = [];
      const reader = async (url: string): Promise<number> => {
        let reads = 0;
        while (storming) {
          for (const tag of TAGS) {
            const got = await getManifest(url, name, tag);
            reads++;
            if (got.status === 404) continue;
            if (got.status !== 200 || !candidates.has(got.digest) || !candidates.get(got.digest)!.bytes.equals(got.body))
              bad.push(`${url} ${tag}: ${got.status} ${got.digest} ${got.body.toString('utf8').slice(0, 300)}`);
          }
        }
        return reads;
      };
      const readers = urls.map(reader);
      try {
        await Promise.all(Array.from({ length: PUSHERS }, (_, p) => pusher(p)));
      } finally {
        storming = false;
      }
      const reads = (await Promise.all(readers)).reduce((x, y) => x + y, 0);
      assert.deepEqual(bad, [], `torn or unknown manifests seen during the storm (${reads} reads)`);
      assert.equal(candidates.size, PUSHERS);
      assert.ok(proxy.counts().every((n) => n > 0), `both replicas served the storm: ${proxy.counts().join(',')}`);
      assert.deepEqual(loggedErrors(cluster()), []);

      // Afterwards: every tag resolves, the same on every replica, to one of the pushed manifests,
      // and every manifest pushed is served whole with every blob it names.
      assert.deepEqual(await listTags(urls[0], name), TAGS);
      assert.deepEqual(await listTags(urls[1], name), TAGS);
      for (const tag of TAGS) {
        const digests = new Set<string>();
        for (const url of urls) digests.add((await fetchManifest(url, name, tag)).digest);
        assert.equal(digests.size, 1, `${tag} resolves differently on the replicas: ${[...digests].join(',')}`);
        assert.ok(candidates.has([...digests][0]));
      }
      for (const m of candidates.values())
        for (const url of urls) {
          const served = await fetchManifest(url, name, m.digest);
          assert.deepEqual(served.body, m.bytes);
          for (const blob of m.blobs) assert.equal(await fetchBlobDigest(url, name, blob), blob, `${blob} of ${m.digest} from ${url}`);
        }
    }));
});
