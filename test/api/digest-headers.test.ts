import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { MT, content, descriptor, getRaw, ociManifest, pushBlob, pushImage, pushManifest, randomBlob, recordingDriver, repoName } from './helpers';
import { startRegistry, type TestRegistry, useRegistry } from './server';

/**
 * Distribution-spec after v1.1.1: a successful manifest or blob GET or HEAD MUST carry
 * Docker-Content-Digest (it was a SHOULD), matching the body.
 */
describe('Docker-Content-Digest on every successful pull and existence check', () => {
  const reg = useRegistry();

  it('manifests: GET and HEAD, by tag and by digest', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name, 'v1');
    for (const ref of ['v1', img.manifest.digest]) {
      const get = await getRaw(reg.r(), `/v2/${name}/manifests/${ref}`).set('Accept', MT.ociManifest).expect(200);
      assert.equal(get.headers['docker-content-digest'], img.manifest.digest, `GET ${ref}`);
      const head = await reg.r().head(`/v2/${name}/manifests/${ref}`).set('Accept', MT.ociManifest).expect(200);
      assert.equal(head.headers['docker-content-digest'], img.manifest.digest, `HEAD ${ref}`);
      assert.equal(head.headers['content-length'], String(img.manifest.size));
    }
  });

  it('manifests pushed by a sha512 digest: the sha512 digest, by tag and by digest', async () => {
    const name = repoName();
    const config = content(Buffer.from('{"architecture":"amd64","os":"linux"}'));
    await pushBlob(reg.r(), name, config);
    const sha256 = ociManifest({ config: descriptor(config, MT.ociConfig) });
    const m = { ...sha256, ...content(sha256.data, 'sha512') };
    await pushManifest(reg.r(), name, `${m.digest}?tag=long`, m).expect(201);
    for (const ref of ['long', m.digest]) {
      for (const method of ['get', 'head'] as const) {
        const res = await reg.r()[method](`/v2/${name}/manifests/${ref}`).expect(200);
        assert.equal(res.headers['docker-content-digest'], m.digest, `${method} ${ref}`);
      }
    }
  });

  it('blobs: GET, HEAD, a ranged GET (206), and a zero-byte blob', async () => {
    const name = repoName();
    const blob = randomBlob(3000);
    const empty = content(Buffer.alloc(0));
    await pushBlob(reg.r(), name, blob);
    await pushBlob(reg.r(), name, empty);
    for (const b of [blob, empty]) {
      const get = await getRaw(reg.r(), `/v2/${name}/blobs/${b.digest}`).expect(200);
      assert.equal(get.headers['docker-content-digest'], b.digest);
      const head = await reg.r().head(`/v2/${name}/blobs/${b.digest}`).expect(200);
      assert.equal(head.headers['docker-content-digest'], b.digest);
      assert.equal(head.headers['content-length'], String(b.size));
    }
    const ranged = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).set('Range', 'bytes=100-199').expect(206);
    assert.equal(ranged.headers['docker-content-digest'], blob.digest);
  });

  it('blobs pushed by a sha512 digest: the sha512 digest, which the body matches', async () => {
    const name = repoName();
    const blob = randomBlob(3000, 'sha512');
    await pushBlob(reg.r(), name, blob);
    const get = await getRaw(reg.r(), `/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.equal(get.headers['docker-content-digest'], blob.digest);
    assert.ok(Buffer.compare(get.body as Buffer, blob.data) === 0);
    const head = await reg.r().head(`/v2/${name}/blobs/${blob.digest}`).expect(200);
    assert.equal(head.headers['docker-content-digest'], blob.digest);
  });
});

describe('Docker-Content-Digest on a blob redirect (307)', () => {
  let reg: TestRegistry;
  before(async () => {
    // The memory and filesystem drivers offer no URL; this one sends every blob elsewhere.
    const { driver } = recordingDriver(createMemoryDriver());
    driver.redirectUrl = async (p) => `https://blobs.example.invalid${p}`;
    reg = await startRegistry({ driver });
  });
  after(async () => reg.close());

  it('GET and HEAD that redirect carry it too', async () => {
    const name = repoName();
    const blob = randomBlob(500);
    await pushBlob(reg.r(), name, blob);
    for (const method of ['get', 'head'] as const) {
      const res = await reg.r()[method](`/v2/${name}/blobs/${blob.digest}`).redirects(0).expect(307);
      assert.ok(res.headers.location?.startsWith('https://blobs.example.invalid/'));
      assert.equal(res.headers['docker-content-digest'], blob.digest, method);
    }
  });
});
