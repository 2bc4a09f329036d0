import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MT,
  content,
  descriptor,
  dockerList,
  manifestDescriptor,
  ociIndex,
  ociManifest,
  pushBlob,
  pushImage,
  pushManifest,
  randomBlob,
  repoName,
  sendBytes,
  unknownDigest,
} from './helpers';
import { assertOciError, rawRequest, startRegistry, testConfig, useRegistry } from './server';

/** Spec "Push": what a registry must accept, what it may reject and with which error. */
describe('manifest validation', () => {
  const reg = useRegistry();

  it('a manifest whose layer is missing is 400 MANIFEST_BLOB_UNKNOWN and not stored', async () => {
    const name = repoName();
    const config = content(Buffer.from('{"os":"linux"}'));
    await pushBlob(reg.r(), name, config);
    const m = ociManifest({ config: descriptor(config, MT.ociConfig), layers: [descriptor(randomBlob(10), MT.ociLayer)] });
    assertOciError(await pushManifest(reg.r(), name, 'broken', m), 400, ['MANIFEST_BLOB_UNKNOWN']);
    await reg.r().head(`/v2/${name}/manifests/${m.digest}`).expect(404);
    await reg.r().head(`/v2/${name}/manifests/broken`).expect(404);
  });

  it('a manifest whose config is missing is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const name = repoName();
    const layer = randomBlob(10);
    await pushBlob(reg.r(), name, layer);
    const m = ociManifest({ config: descriptor(content(Buffer.from('{"x":1}')), MT.ociConfig), layers: [descriptor(layer, MT.ociLayer)] });
    assertOciError(await pushManifest(reg.r(), name, 'broken', m), 400, ['MANIFEST_BLOB_UNKNOWN']);
  });

  it('a blob that exists only in another repository does not count', async () => {
    const name = repoName();
    const elsewhere = await pushImage(reg.r(), repoName());
    const m = elsewhere.manifest;
    assertOciError(await pushManifest(reg.r(), name, 'foreign', m), 400, ['MANIFEST_BLOB_UNKNOWN']);
  });

  it('an index whose child manifest is missing is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const name = repoName();
    const present = await pushImage(reg.r(), name);
    const absent = { mediaType: MT.ociManifest, digest: unknownDigest(), size: 321 };
    const index = ociIndex([manifestDescriptor(present.manifest), absent]);
    assertOciError(await pushManifest(reg.r(), name, 'idx', index), 400, ['MANIFEST_BLOB_UNKNOWN']);
    const list = dockerList([{ ...absent, mediaType: MT.dockerManifest }]);
    assertOciError(await pushManifest(reg.r(), name, 'list', list), 400, ['MANIFEST_BLOB_UNKNOWN']);
  });

  it('a missing subject is accepted (201) with OCI-Subject', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const subject = { mediaType: MT.ociManifest, digest: unknownDigest(), size: 1234 };
    const referrer = ociManifest({ config: img.manifest.json.config as never, layers: [], subject, artifactType: 'application/vnd.example.sig' });
    const res = await pushManifest(reg.r(), name, referrer.digest, referrer);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers['oci-subject'], subject.digest);
  });

  it('a PUT without a subject carries no OCI-Subject', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const res = await pushManifest(reg.r(), name, 'plain', img.manifest).expect(201);
    assert.equal(res.headers['oci-subject'], undefined);
  });

  it('push by digest with a digest that does not match the body is 400 DIGEST_INVALID', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const claimed = unknownDigest();
    assertOciError(await pushManifest(reg.r(), name, claimed, img.manifest), 400, ['DIGEST_INVALID']);
    await reg.r().head(`/v2/${name}/manifests/${claimed}`).expect(404);
  });

  it('a manifest over 4 MiB is 413; exactly 4 MiB is not refused for its size', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const padded = (size: number) => {
      const base = ociManifest({ config: img.manifest.json.config as never, layers: [], annotations: { pad: '' } });
      return ociManifest({ config: img.manifest.json.config as never, layers: [], annotations: { pad: 'x'.repeat(size - base.size) } });
    };
    const limit = 4 * 1024 * 1024;
    const big = padded(limit + 1);
    assert.equal(big.size, limit + 1);
    const res = await pushManifest(reg.r(), name, 'big', big);
    assertOciError(res, 413, ['SIZE_INVALID', 'MANIFEST_INVALID']);
    await reg.r().head(`/v2/${name}/manifests/big`).expect(404);
    const fits = padded(limit);
    assert.equal(fits.size, limit);
    const ok = await pushManifest(reg.r(), name, 'fits', fits);
    assert.equal(ok.status, 201, ok.text.slice(0, 300));
  });

  it('a huge streamed JSON body (32 MiB, chunked) gets a 413, not a crash or a hang', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const res = await rawRequest(reg.url, {
      method: 'PUT',
      path: `/v2/${repoName()}/manifests/huge`,
      headers: { 'Content-Type': MT.ociManifest },
      chunks: [Buffer.from('{"schemaVersion":2,"pad":"'), ...Array.from({ length: 32 }, () => chunk)],
    });
    assertOciError(res, 413, ['SIZE_INVALID', 'MANIFEST_INVALID']);
    await reg.r().get('/v2/').expect(200);
  });

  it('malformed JSON is 400 MANIFEST_INVALID', async () => {
    const name = repoName();
    for (const body of ['{"schemaVersion": 2,', 'not json at all', '', '[]', 'null']) {
      const res = await sendBytes(reg.r().put(`/v2/${name}/manifests/bad`).set('Content-Type', MT.ociManifest), Buffer.from(body));
      assertOciError(res, 400, ['MANIFEST_INVALID']);
    }
    await reg.r().head(`/v2/${name}/manifests/bad`).expect(404);
  });

  it('JSON that is not a manifest is 400 MANIFEST_INVALID', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    const cases: unknown[] = [
      { schemaVersion: 2, mediaType: MT.ociManifest, layers: [] },
      { schemaVersion: 2, mediaType: MT.ociManifest, config: img.manifest.json.config, layers: 'nope' },
      { schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: 'sha256:nothex', size: 2 }, layers: [] },
      { schemaVersion: 2, mediaType: MT.ociIndex, manifests: {} },
    ];
    for (const json of cases) {
      const res = await sendBytes(reg.r().put(`/v2/${name}/manifests/shape`).set('Content-Type', MT.ociManifest), Buffer.from(JSON.stringify(json)));
      assertOciError(res, 400, ['MANIFEST_INVALID', 'DIGEST_INVALID']);
    }
  });

  for (const tag of ['-leading-dash', '.leading-dot', 'a'.repeat(129), 'bad!char', 'sp%20ace']) {
    it(`PUT with an invalid tag (${tag.slice(0, 20)}) is 400 MANIFEST_INVALID, and reading it is 404 MANIFEST_UNKNOWN`, async () => {
      const name = repoName();
      const img = await pushImage(reg.r(), name);
      assertOciError(await pushManifest(reg.r(), name, tag, img.manifest), 400, ['MANIFEST_INVALID']);
      assertOciError(await reg.r().get(`/v2/${name}/manifests/${tag}`), 404, ['MANIFEST_UNKNOWN']);
    });
  }

  it('a malformed digest as manifest reference is a 4xx JSON error, 400 DIGEST_INVALID on PUT', async () => {
    const name = repoName();
    const img = await pushImage(reg.r(), name);
    for (const ref of ['sha256:xyz', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `md5:${'a'.repeat(32)}`]) {
      assertOciError(await reg.r().get(`/v2/${name}/manifests/${ref}`), [400, 404], ['DIGEST_INVALID', 'MANIFEST_UNKNOWN', 'MANIFEST_INVALID']);
      assertOciError(await pushManifest(reg.r(), name, ref, img.manifest), 400, ['DIGEST_INVALID', 'MANIFEST_INVALID']);
      assertOciError(await reg.r().delete(`/v2/${name}/manifests/${ref}`), [400, 404], ['DIGEST_INVALID', 'MANIFEST_UNKNOWN', 'MANIFEST_INVALID']);
    }
  });

  it('a 128-character tag is valid', async () => {
    const name = repoName();
    const tag = `A_${'b'.repeat(126)}`;
    const img = await pushImage(reg.r(), name);
    await pushManifest(reg.r(), name, tag, img.manifest).expect(201);
    await reg.r().head(`/v2/${name}/manifests/${tag}`).expect(200);
  });
});

describe('manifest size limit from the configuration', () => {
  it('validation.manifests.maxsize lowers the 413 threshold', async () => {
    const reg = await startRegistry({ config: testConfig({ validation: { manifests: { maxsize: 1000 } } }) });
    try {
      const name = repoName();
      const img = await pushImage(reg.r(), name, 'small');
      assert.ok(img.manifest.size < 1000);
      const big = ociManifest({ config: img.manifest.json.config as never, layers: [], annotations: { pad: 'x'.repeat(1200) } });
      assertOciError(await pushManifest(reg.r(), name, 'big', big), 413, ['SIZE_INVALID', 'MANIFEST_INVALID']);
    } finally {
      await reg.close();
    }
  });
});
