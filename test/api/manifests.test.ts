import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EMPTY_CONFIG,
  MT,
  content,
  descriptor,
  dockerList,
  dockerManifest,
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
  type Manifest,
  type TagList,
} from './helpers';
import { assertOciError, pathOf, startRegistry, testConfig, type TestRegistry } from './server';

/** Spec "Pulling manifests", "Pushing Manifests", "Deleting tags/manifests" (end-3, end-7, end-9). */
describe('manifests', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg.close());

  /** Pushes by tag, then checks the bytes and headers by tag and by digest. */
  async function roundTrip(name: string, tag: string, m: Manifest, pushedType = m.mediaType, expectedType = pushedType): Promise<void> {
    const put = await pushManifest(reg.r(), name, tag, m, pushedType);
    assert.equal(put.status, 201, put.text);
    assert.equal(put.headers['docker-content-digest'], m.digest);
    assert.equal(pathOf(put.headers.location), `/v2/${name}/manifests/${m.digest}`);
    for (const ref of [tag, m.digest]) {
      const res = await getRaw(reg.r(), `/v2/${name}/manifests/${ref}`).set('Accept', `${MT.ociManifest}, ${MT.ociIndex}, ${MT.dockerManifest}, ${MT.dockerList}`).expect(200);
      assert.ok(Buffer.compare(res.body as Buffer, m.data) === 0, `manifest bytes changed (GET ${ref})`);
      assert.equal(res.headers['content-type'], expectedType);
      assert.equal(res.headers['docker-content-digest'], m.digest);
      assert.equal(res.headers['content-length'], String(m.size));
    }
  }

  it('OCI image manifest: byte-exact round trip with its Content-Type', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    await roundTrip(name, 'v1', img.manifest);
  });

  it('OCI image index over two images', async () => {
    const name = repoName();
    const a = await pushImage(reg.r(), name);
    const b = await pushImage(reg.r(), name);
    const index = ociIndex([
      manifestDescriptor(a.manifest, { platform: { architecture: 'amd64', os: 'linux' } }),
      manifestDescriptor(b.manifest, { platform: { architecture: 'arm64', os: 'linux' } }),
    ]);
    await roundTrip(name, 'multi', index);
  });

  it('Docker schema 2 manifest and manifest list', async () => {
    const name = repoName();
    const config = content(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
    const layer = randomBlob(900);
    await pushBlob(reg.r(), name, config);
    await pushBlob(reg.r(), name, layer);
    const m = dockerManifest(descriptor(config, MT.dockerConfig), [descriptor(layer, MT.dockerLayer)]);
    await roundTrip(name, 'docker', m);
    const list = dockerList([manifestDescriptor(m, { platform: { architecture: 'amd64', os: 'linux' } })]);
    await roundTrip(name, 'docker-list', list);
  });

  it('artifacts: any artifactType, empty config, custom config and layer media types', async () => {
    const name = repoName();
    const data = randomBlob(200);
    const customConfig = content(Buffer.from('{"tool":"example"}'));
    await pushBlob(reg.r(), name, EMPTY_CONFIG);
    await pushBlob(reg.r(), name, data);
    await pushBlob(reg.r(), name, customConfig);
    const withType = ociManifest({
      artifactType: 'application/vnd.example.thing.v1',
      config: descriptor(EMPTY_CONFIG, MT.ociEmpty),
      layers: [descriptor(data, 'application/vnd.example.data.v1.tar')],
    });
    await roundTrip(name, 'artifact', withType);
    const customType = ociManifest({
      config: descriptor(customConfig, 'application/vnd.example.config.v1+json'),
      layers: [descriptor(data, 'application/x-anything')],
    });
    await roundTrip(name, 'custom-config', customType);
  });

  it('a manifest without a mediaType field takes its type from the request (umoci)', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const bare = ociManifest({ config: img.manifest.json.config as never, layers: img.manifest.json.layers as never, omitMediaType: true });
    assert.equal('mediaType' in bare.json, false);
    await roundTrip(name, 'bare', bare, MT.ociManifest);
  });

  it('Content-Type parameters are ignored and not echoed back', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const bare = ociManifest({ config: img.manifest.json.config as never, layers: img.manifest.json.layers as never, omitMediaType: true });
    await roundTrip(name, 'params', bare, `${MT.ociManifest}; charset=utf-8`, MT.ociManifest);
  });

  it('push by digest: 201 when the digest matches', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name, 'seed');
    const other = ociManifest({ config: img.manifest.json.config as never, layers: [], annotations: { 'org.example.n': '1' } });
    const res = await pushManifest(reg.r(), name, other.digest, other);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers['docker-content-digest'], other.digest);
    const got = await getRaw(reg.r(), `/v2/${name}/manifests/${other.digest}`).expect(200);
    assert.ok(Buffer.compare(got.body as Buffer, other.data) === 0);
  });

  it('HEAD by tag and by digest: Docker-Content-Digest, Content-Length, Content-Type, no body', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name, 'head');
    for (const ref of ['head', img.manifest.digest]) {
      const res = await reg.r().head(`/v2/${name}/manifests/${ref}`).expect(200);
      assert.equal(res.headers['docker-content-digest'], img.manifest.digest);
      assert.equal(res.headers['content-length'], String(img.manifest.size));
      assert.equal(res.headers['content-type'], MT.ociManifest);
      assert.ok(!res.text);
    }
  });

  it('a tag can move to another manifest', async () => {
    const name = repoName();
    const a = await pushImage(reg.r(), name, 'moving');
    const b = await pushImage(reg.r(), name, 'moving');
    const res = await getRaw(reg.r(), `/v2/${name}/manifests/moving`).expect(200);
    assert.equal(res.headers['docker-content-digest'], b.manifest.digest);
    await reg.r().head(`/v2/${name}/manifests/${a.manifest.digest}`).expect(200);
  });

  it('unknown tag or digest is 404 MANIFEST_UNKNOWN', async () => {
    const name = repoName();
    await pushImage(reg.r(), name, 'exists');
    assertOciError(await reg.r().get(`/v2/${name}/manifests/missing`), 404, ['MANIFEST_UNKNOWN']);
    assertOciError(await reg.r().get(`/v2/${name}/manifests/${unknownDigest()}`), 404, ['MANIFEST_UNKNOWN']);
    const head = await reg.r().head(`/v2/${name}/manifests/missing`);
    assert.equal(head.status, 404);
  });

  it('an unknown repository is 404 (NAME_UNKNOWN or MANIFEST_UNKNOWN)', async () => {
    assertOciError(await reg.r().get(`/v2/${repoName('ghost')}/manifests/latest`), 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']);
  });

  it('DELETE by tag: 202, the tag goes and the manifest stays by digest', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name, 'doomed');
    await pushManifest(reg.r(), name, 'kept', img.manifest).expect(201);
    await reg.r().delete(`/v2/${name}/manifests/doomed`).expect(202);
    assertOciError(await reg.r().get(`/v2/${name}/manifests/doomed`), 404, ['MANIFEST_UNKNOWN']);
    await reg.r().head(`/v2/${name}/manifests/${img.manifest.digest}`).expect(200);
    await reg.r().head(`/v2/${name}/manifests/kept`).expect(200);
    const tags = await reg.r().get(`/v2/${name}/tags/list`).expect(200);
    assert.deepEqual((tags.body as TagList).tags, ['kept']);
    assertOciError(await reg.r().delete(`/v2/${name}/manifests/doomed`), 404, ['MANIFEST_UNKNOWN']);
  });

  it('DELETE by digest: 202, the manifest and every tag pointing at it go', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name, 't1');
    await pushManifest(reg.r(), name, 't2', img.manifest).expect(201);
    const other = await pushImage(reg.r(), name, 'other');
    await reg.r().delete(`/v2/${name}/manifests/${img.manifest.digest}`).expect(202);
    for (const ref of ['t1', 't2', img.manifest.digest]) assertOciError(await reg.r().get(`/v2/${name}/manifests/${ref}`), 404, ['MANIFEST_UNKNOWN']);
    const tags = await reg.r().get(`/v2/${name}/tags/list`).expect(200);
    assert.deepEqual((tags.body as TagList).tags, ['other']);
    await reg.r().head(`/v2/${name}/manifests/${other.manifest.digest}`).expect(200);
    assertOciError(await reg.r().delete(`/v2/${name}/manifests/${img.manifest.digest}`), 404, ['MANIFEST_UNKNOWN']);
  });

  it('a deleted manifest can be pushed again', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name, 'again');
    await reg.r().delete(`/v2/${name}/manifests/${img.manifest.digest}`).expect(202);
    await pushManifest(reg.r(), name, 'again', img.manifest).expect(201);
    const res = await getRaw(reg.r(), `/v2/${name}/manifests/again`).expect(200);
    assert.ok(Buffer.compare(res.body as Buffer, img.manifest.data) === 0);
  });

  it('two concurrent PUTs to one tag end with exactly one of them, consistently', async () => {
    const name = repoName();
    const seed = await pushImage(reg.r(), name);
    const variants = Array.from({ length: 8 }, (_, i) =>
      ociManifest({ config: seed.manifest.json.config as never, layers: seed.manifest.json.layers as never, annotations: { 'org.example.i': String(i) } }),
    );
    const results = await Promise.all(variants.map((m) => pushManifest(reg.r(), name, 'race', m)));
    assert.deepEqual(results.map((r) => r.status), variants.map(() => 201));
    const res = await getRaw(reg.r(), `/v2/${name}/manifests/race`).expect(200);
    const winner = variants.find((m) => m.digest === res.headers['docker-content-digest']);
    assert.ok(winner, 'the tag must point at one of the pushed manifests');
    assert.ok(Buffer.compare(res.body as Buffer, winner.data) === 0);
    const head = await reg.r().head(`/v2/${name}/manifests/race`).expect(200);
    assert.equal(head.headers['docker-content-digest'], winner.digest);
    const tags = await reg.r().get(`/v2/${name}/tags/list`).expect(200);
    assert.deepEqual((tags.body as TagList).tags, ['race']);
    for (const m of variants) await reg.r().head(`/v2/${name}/manifests/${m.digest}`).expect(200);
  });

  it('DELETE of a manifest answers 400 or 405 when deletion is disabled', async () => {
    const ro = await startRegistry({ config: testConfig({ storage: { delete: { enabled: false } } }) });
    try {
      const name = repoName();
      const img = await pushImage(ro.r(), name, 'kept');
      assertOciError(await ro.r().delete(`/v2/${name}/manifests/kept`), [400, 405], ['UNSUPPORTED']);
      assertOciError(await ro.r().delete(`/v2/${name}/manifests/${img.manifest.digest}`), [400, 405], ['UNSUPPORTED']);
      await ro.r().head(`/v2/${name}/manifests/kept`).expect(200);
    } finally {
      await ro.close();
    }
  });
});
