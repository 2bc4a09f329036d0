import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import {
  EMPTY_CONFIG,
  MT,
  content,
  descriptor,
  getRaw,
  manifestDescriptor,
  ociIndex,
  ociManifest,
  pushBlob,
  pushImage,
  pushManifest,
  randomBlob,
  repoName,
  unknownDigest,
  type Catalog,
  type Content,
  type TagList,
} from '../api/helpers';
import { assertOciError, pathOf, rawRequest, withQuery } from '../api/server';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { startBerthOnS3, type BerthOnS3 } from './berth-on-s3';

const MiB = 1024 * 1024;
const skip = rgwSkipReason();
const BLOBS = 'docker/registry/v2/blobs/';

/**
 * The HTTP API against a Berth process whose store is a bucket on a real RGW: the same answers the
 * filesystem gives (test/api), with blobs big enough to span several multipart parts, and a look at
 * the bucket to check that interrupted uploads leave nothing visible behind.
 */
describe('the HTTP API on S3 (RGW)', { skip, timeout: 300_000 }, () => {
  let rgw: Rgw;
  let reg: BerthOnS3;
  const r = () => request.agent(reg.url);

  before(async () => {
    rgw = await acquireRgw();
    reg = await startBerthOnS3(rgw, { redirect: false });
  });
  after(async () => {
    await reg?.stop();
    await releaseRgw();
  });

  function withLogs<T>(body: () => Promise<T>): () => Promise<T> {
    return async () => {
      try {
        return await body();
      } catch (e) {
        if (e instanceof Error) e.message += `\n--- berth log (tail)\n${reg.berth.logs().slice(-4000)}`;
        throw e;
      }
    };
  }

  async function startSession(name: string): Promise<string> {
    const res = await r().post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0').expect(202);
    assert.ok(res.headers.location);
    return res.headers.location;
  }

  async function assertPullable(name: string, blob: Content): Promise<void> {
    const res = await getRaw(r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.equal(res.headers['content-length'], String(blob.size));
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.ok(Buffer.compare(res.body as Buffer, blob.data) === 0, 'pulled bytes differ from pushed bytes');
  }

  async function blobKeys(digest: string): Promise<string[]> {
    const hex = digest.split(':')[1];
    return reg.keys(`${BLOBS}sha256/${hex.slice(0, 2)}/${hex}/`);
  }

  it('ranged PATCHes across part boundaries, status, and a closing PUT with the last chunk', withLogs(async () => {
    const name = repoName('chunked');
    const blob = randomBlob(13 * MiB + 5);
    const cuts = [0, 6 * MiB + 1, 11 * MiB, blob.size];
    let location = await startSession(name);
    for (let i = 0; i < 2; i++) {
      const [from, to] = [cuts[i], cuts[i + 1]];
      const res = await r()
        .patch(pathOf(location))
        .set('Content-Type', 'application/octet-stream')
        .set('Content-Range', `${from}-${to - 1}`)
        .send(blob.data.subarray(from, to))
        .expect(202);
      assert.equal(res.headers.range, `0-${to - 1}`);
      location = res.headers.location;
    }
    const gap = await r().patch(pathOf(location)).set('Content-Range', `${cuts[2] + 10}-${cuts[2] + 19}`).send(Buffer.alloc(10));
    assertOciError(gap, 416, ['BLOB_UPLOAD_INVALID']);
    assert.equal(gap.headers.range, `0-${cuts[2] - 1}`);
    const status = await r().get(pathOf(location)).expect(204);
    assert.equal(status.headers.range, `0-${cuts[2] - 1}`);
    const put = await r()
      .put(pathOf(withQuery(status.headers.location, 'digest', blob.digest)))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `${cuts[2]}-${blob.size - 1}`)
      .send(blob.data.subarray(cuts[2]))
      .expect(201);
    assert.equal(pathOf(put.headers.location), `/v2/${name}/blobs/${blob.digest}`);
    await assertPullable(name, blob);
    const ranged = await getRaw(r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', `bytes=${6 * MiB}-${6 * MiB + 9}`).expect(206);
    assert.equal(ranged.headers['content-range'], `bytes ${6 * MiB}-${6 * MiB + 9}/${blob.size}`);
    assert.ok(Buffer.compare(ranged.body as Buffer, blob.data.subarray(6 * MiB, 6 * MiB + 10)) === 0);
    assertOciError(await r().get(pathOf(location)), 404, ['BLOB_UPLOAD_UNKNOWN']);
  }));

  it('one streamed PATCH with neither Content-Range nor Content-Length (docker engine)', withLogs(async () => {
    const name = repoName('streamed');
    const blob = randomBlob(12 * MiB + 17);
    const location = await startSession(name);
    const chunks: Buffer[] = [];
    for (let i = 0; i < blob.size; i += 256 * 1024) chunks.push(blob.data.subarray(i, i + 256 * 1024));
    const patched = await rawRequest(reg.url, { method: 'PATCH', path: pathOf(location), headers: { 'Content-Type': 'application/octet-stream' }, chunks });
    assert.equal(patched.status, 202, patched.body.toString());
    assert.equal(patched.headers.range, `0-${blob.size - 1}`);
    await r().put(pathOf(withQuery(patched.headers.location as string, 'digest', blob.digest))).expect(201);
    await assertPullable(name, blob);
    const head = await r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.equal(head.headers['content-length'], String(blob.size));
  }));

  it('monolithic: POST then PUT, a single POST with ?digest=, and a wrong digest stores nothing', withLogs(async () => {
    const name = repoName('mono');
    const big = randomBlob(7 * MiB + 3);
    const location = await startSession(name);
    const put = await r().put(pathOf(withQuery(location, 'digest', big.digest))).set('Content-Type', 'application/octet-stream').send(big.data).expect(201);
    assert.equal(put.headers['docker-content-digest'], big.digest);
    await assertPullable(name, big);

    const small = randomBlob(4096);
    const post = await r().post(`/v2/${name}/blobs/uploads/?digest=${small.digest}`).set('Content-Type', 'application/octet-stream').send(small.data).expect(201);
    assert.equal(pathOf(post.headers.location), `/v2/${name}/blobs/${small.digest}`);
    await assertPullable(name, small);

    const other = randomBlob(6 * MiB);
    const claimed = unknownDigest();
    const bad = await r().put(pathOf(withQuery(await startSession(name), 'digest', claimed))).set('Content-Type', 'application/octet-stream').send(other.data);
    assertOciError(bad, 400, ['DIGEST_INVALID']);
    await r().head(`/v2/${name}/blobs/${claimed}`).expect(404);
    await r().head(`/v2/${name}/blobs/${other.digest}`).expect(404);
    assert.deepEqual(await blobKeys(other.digest), []);
    assert.deepEqual(await blobKeys(claimed), []);
  }));

  it('mount with from= and without (automatic), and of an unknown blob (202)', withLogs(async () => {
    const source = repoName('src');
    const blob = randomBlob(1000);
    await pushBlob(r(), source, blob);
    const withFrom = repoName('dst');
    await r().head(`/v2/${withFrom}/blobs/${blob.digest}`).expect(404);
    const mounted = await r().post(`/v2/${withFrom}/blobs/uploads/?mount=${blob.digest}&from=${source}`).set('Content-Length', '0').expect(201);
    assert.equal(mounted.headers['docker-content-digest'], blob.digest);
    assert.equal(pathOf(mounted.headers.location), `/v2/${withFrom}/blobs/${blob.digest}`);
    await assertPullable(withFrom, blob);
    const withoutFrom = repoName('dst');
    await r().post(`/v2/${withoutFrom}/blobs/uploads/?mount=${blob.digest}`).set('Content-Length', '0').expect(201);
    await assertPullable(withoutFrom, blob);

    const unknown = randomBlob(500);
    const session = await r().post(`/v2/${withFrom}/blobs/uploads/?mount=${unknown.digest}&from=${source}`).set('Content-Length', '0').expect(202);
    await r().put(pathOf(withQuery(session.headers.location, 'digest', unknown.digest))).send(unknown.data).expect(201);
    await assertPullable(withFrom, unknown);
  }));

  it('manifests and an index round-trip byte-exact; referrers list and filter', withLogs(async () => {
    const name = repoName('manifests');
    const a = await pushImage(r(), name, 'a');
    const b = await pushImage(r(), name, 'b');
    const index = ociIndex([
      manifestDescriptor(a.manifest, { platform: { architecture: 'amd64', os: 'linux' } }),
      manifestDescriptor(b.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
    ]);
    const put = await pushManifest(r(), name, 'multi', index);
    assert.equal(put.status, 201, put.text);
    for (const ref of ['multi', index.digest]) {
      const got = await getRaw(r(), `/v2/${name}/manifests/${ref}`).set('Accept', `${MT.ociManifest}, ${MT.ociIndex}`).expect(200);
      assert.ok(Buffer.compare(got.body as Buffer, index.data) === 0);
      assert.equal(got.headers['content-type'], MT.ociIndex);
      assert.equal(got.headers['docker-content-digest'], index.digest);
    }
    const head = await r().head(`/v2/${name}/manifests/a`).set('Accept', MT.ociManifest).expect(200);
    assert.equal(head.headers['docker-content-digest'], a.manifest.digest);
    assert.equal(head.headers['content-length'], String(a.manifest.size));

    await pushBlob(r(), name, EMPTY_CONFIG);
    const subject = manifestDescriptor(a.manifest);
    const sbom = ociManifest({ artifactType: 'application/vnd.example.sbom.v1', config: descriptor(EMPTY_CONFIG, MT.ociEmpty), subject });
    const sig = ociManifest({ artifactType: 'application/vnd.example.sig.v1', config: descriptor(EMPTY_CONFIG, MT.ociEmpty), subject });
    for (const m of [sbom, sig]) {
      const res = await pushManifest(r(), name, m.digest, m);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers['oci-subject'], a.manifest.digest);
    }
    const all = await r().get(`/v2/${name}/referrers/${a.manifest.digest}`).buffer(true);
    assert.equal(all.status, 200);
    assert.equal(all.headers['content-type'], MT.ociIndex);
    const listed = JSON.parse(all.text) as { manifests: { digest: string; artifactType?: string; size: number }[] };
    assert.deepEqual(listed.manifests.map((d) => d.digest).sort(), [sbom.digest, sig.digest].sort());
    assert.equal(listed.manifests.find((d) => d.digest === sbom.digest)?.size, sbom.size);
    const filtered = await r().get(`/v2/${name}/referrers/${a.manifest.digest}?artifactType=${encodeURIComponent('application/vnd.example.sig.v1')}`).buffer(true);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual((JSON.parse(filtered.text) as typeof listed).manifests.map((d) => d.digest), [sig.digest]);
    const none = await r().get(`/v2/${name}/referrers/${b.manifest.digest}`).buffer(true).expect(200);
    assert.deepEqual((JSON.parse(none.text) as typeof listed).manifests, []);
  }));

  it('tag list in byte order, paginated by n and last with Link', withLogs(async () => {
    const name = repoName('tags');
    const img = await pushImage(r(), name);
    const tags = ['latest', 'beta', '9', 'v1.0', 'alpha', '10', 'b'];
    await Promise.all(tags.map((t) => pushManifest(r(), name, t, img.manifest).expect(201)));
    const sorted = [...tags].sort();
    assert.deepEqual((await r().get(`/v2/${name}/tags/list`).expect(200)).body, { name, tags: sorted });
    const pages: string[][] = [];
    let next: string | undefined = `/v2/${name}/tags/list?n=3`;
    while (next) {
      const res = await r().get(next).expect(200);
      pages.push((res.body as TagList).tags);
      const link = res.headers.link as string | undefined;
      next = link ? pathOf(/^<([^>]+)>;\s*rel="next"$/.exec(link)![1]) : undefined;
      assert.ok(pages.length < 10);
    }
    assert.deepEqual(pages, [sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
    assert.deepEqual(((await r().get(`/v2/${name}/tags/list?last=c`).expect(200)).body as TagList).tags, ['latest', 'v1.0']);
    assertOciError(await r().get(`/v2/${repoName('ghost')}/tags/list`), 404, ['NAME_UNKNOWN']);
  }));

  it('deletes: a tag, a manifest by digest (its tags go too), a blob in one repository only', withLogs(async () => {
    const name = repoName('deletes');
    const img = await pushImage(r(), name, 'keep');
    await pushManifest(r(), name, 'doomed', img.manifest).expect(201);
    await r().delete(`/v2/${name}/manifests/doomed`).expect(202);
    assertOciError(await r().get(`/v2/${name}/manifests/doomed`), 404, ['MANIFEST_UNKNOWN']);
    await r().head(`/v2/${name}/manifests/${img.manifest.digest}`).expect(200);
    assert.deepEqual(((await r().get(`/v2/${name}/tags/list`).expect(200)).body as TagList).tags, ['keep']);

    await r().delete(`/v2/${name}/manifests/${img.manifest.digest}`).expect(202);
    assertOciError(await r().get(`/v2/${name}/manifests/keep`), 404, ['MANIFEST_UNKNOWN']);
    assertOciError(await r().get(`/v2/${name}/manifests/${img.manifest.digest}`), 404, ['MANIFEST_UNKNOWN']);
    assertOciError(await r().delete(`/v2/${name}/manifests/${img.manifest.digest}`), 404, ['MANIFEST_UNKNOWN']);

    const other = repoName('deletes');
    await pushBlob(r(), other, img.layer);
    await r().delete(`/v2/${name}/blobs/${img.layer.digest}`).expect(202);
    assertOciError(await r().get(`/v2/${name}/blobs/${img.layer.digest}`), 404, ['BLOB_UNKNOWN']);
    assertOciError(await r().delete(`/v2/${name}/blobs/${img.layer.digest}`), 404, ['BLOB_UNKNOWN']);
    await assertPullable(other, img.layer);
    await pushBlob(r(), name, img.layer);
    await assertPullable(name, img.layer);
  }));

  it('a client gone mid-upload leaves no blob, no link, and no multipart upload once cancelled', withLogs(async () => {
    const name = repoName('cut');
    const blob = randomBlob(16 * MiB);
    const port = Number(new URL(reg.url).port);
    const cutAfter = async (head: string, bytes: Buffer) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(head);
      await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
      // Long enough for Berth to have stored at least one part of what arrived.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 1000));
    };

    // A monolithic PUT announcing 16 MiB, cut after 11 MiB.
    const monolithic = await startSession(name);
    await cutAfter(
      `PUT ${pathOf(withQuery(monolithic, 'digest', blob.digest))} HTTP/1.1\r\nHost: ${reg.host}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${blob.size}\r\n\r\n`,
      blob.data.subarray(0, 11 * MiB),
    );
    // A streamed PATCH (chunked, no length), cut after 11 MiB.
    const streamed = await startSession(name);
    await cutAfter(
      `PATCH ${pathOf(streamed)} HTTP/1.1\r\nHost: ${reg.host}\r\nContent-Type: application/octet-stream\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${(11 * MiB).toString(16)}\r\n`,
      blob.data.subarray(0, 11 * MiB),
    );

    await r().head(`/v2/${name}/blobs/${blob.digest}`).expect(404);
    assert.deepEqual(await blobKeys(blob.digest), []);
    assert.deepEqual(await reg.keys(`docker/registry/v2/repositories/${name}/_layers/`), []);
    assert.ok(!((await r().get('/v2/_catalog').expect(200)).body as Catalog).repositories.includes(name), 'an upload alone does not make a repository');

    // Whatever survived of each session is a consistent prefix the client can resume from.
    for (const location of [monolithic, streamed]) {
      const status = await r().get(pathOf(location));
      if (status.status === 404) continue;
      assert.equal(status.status, 204);
      const end = Number(/^0-(\d+)$/.exec(String(status.headers.range))![1]);
      assert.ok(end < 11 * MiB, `Range ${status.headers.range} claims more than arrived`);
    }
    const status = await r().get(pathOf(streamed)).expect(204);
    const stored = status.headers.range === '0-0' ? 0 : Number(status.headers.range.split('-')[1]) + 1;
    await r()
      .put(pathOf(withQuery(status.headers.location, 'digest', blob.digest)))
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `${stored}-${blob.size - 1}`)
      .send(blob.data.subarray(stored))
      .expect(201);
    await assertPullable(name, blob);

    const mono = await r().get(pathOf(monolithic));
    if (mono.status === 204) await r().delete(pathOf(monolithic)).expect(204);
    assertOciError(await r().get(pathOf(monolithic)), 404, ['BLOB_UPLOAD_UNKNOWN']);
    assert.deepEqual(await reg.keys(`docker/registry/v2/repositories/${name}/_uploads/`), []);
    assert.deepEqual(await reg.openMultipartUploads(), []);
  }));

  it('tags with details: push time from the link\'s LastModified, sizes, platforms, pages; usage', withLogs(async () => {
    const name = repoName('details');
    const started = Date.now() - 5_000;
    const img = await pushImage(r(), name, 'b');
    await pushManifest(r(), name, 'a', img.manifest).expect(201);
    const first = await r().get(`/v2/${name}/_berth/tags?n=1`).expect(200);
    assert.equal(first.headers.link, `</v2/${name}/_berth/tags?n=1&last=a>; rel="next"`);
    const all = (await r().get(`/v2/${name}/_berth/tags`).expect(200)).body as { tags: Array<{ name: string; digest: string; size: number; platforms: string[]; pushedAt: string }> };
    assert.deepEqual(all.tags.map((t) => t.name), ['a', 'b']);
    for (const t of all.tags) {
      assert.equal(t.digest, img.manifest.digest);
      assert.equal(t.size, img.manifest.size + img.config.size + img.layer.size);
      assert.deepEqual(t.platforms, ['linux/amd64']);
      const at = Date.parse(t.pushedAt);
      assert.ok(at >= started && at <= Date.now() + 5_000, t.pushedAt);
    }
    const usage = (await r().get(`/v2/${name}/_berth/usage`).expect(200)).body as { bytes: number };
    assert.equal(usage.bytes, img.manifest.size + img.config.size + img.layer.size);
  }));

  it('catalog: nested names in path-component order, paginated', withLogs(async () => {
    // A registry of its own, so the expected list is exact.
    const own = await startBerthOnS3(rgw, { redirect: false });
    try {
      const repos = ['b', 'a/nested/deep', 'c-1', 'a', 'a/x', 'a-b'];
      const agent = () => request.agent(own.url);
      const cfg = content(Buffer.from('{"architecture":"amd64","os":"linux"}'));
      for (const repo of repos) {
        await pushBlob(agent(), repo, cfg);
        const m = ociManifest({ config: descriptor(cfg, MT.ociConfig) });
        await pushManifest(agent(), repo, 'latest', m).expect(201);
      }
      const byComponent = [...repos].sort((x, y) => (x.replaceAll('/', '\0') < y.replaceAll('/', '\0') ? -1 : 1));
      assert.deepEqual((await agent().get('/v2/_catalog').expect(200)).body, { repositories: byComponent });
      for (const n of [1, 4]) {
        const seen: string[] = [];
        let next: string | undefined = `/v2/_catalog?n=${n}`;
        while (next) {
          const res = await agent().get(next).expect(200);
          assert.ok((res.body as Catalog).repositories.length <= n);
          seen.push(...(res.body as Catalog).repositories);
          const link = res.headers.link as string | undefined;
          next = link ? pathOf(/^<([^>]+)>;\s*rel="next"$/.exec(link)![1]) : undefined;
          assert.ok(seen.length <= repos.length);
        }
        assert.deepEqual(seen, byComponent, `n=${n}`);
      }
    } finally {
      await own.stop();
    }
  }));
});
