import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { MT, content, descriptor, getRaw, ociManifest, pushBlob, pushImage, pushManifest, recordingDriver, repoName, sendBytes, type Manifest, type TagList } from './helpers';
import { assertOciError, startRegistry, type TestRegistry } from './server';

/** The tags named by a response's OCI-Tag headers (one header per tag, or comma-separated lists). */
function ociTags(headers: Record<string, string | string[] | undefined>): string[] {
  const raw = headers['oci-tag'];
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return values.flatMap((v) => v.split(',').map((s) => s.trim())).filter((s) => s !== '');
}

/** A manifest over blobs already in the repository that no other test pushed. */
async function freshManifest(reg: TestRegistry, name: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<Manifest> {
  const config = content(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: Math.random() })));
  await pushBlob(reg.r(), name, config);
  const m = ociManifest({ config: descriptor(config, MT.ociConfig) });
  return algorithm === 'sha256' ? m : { ...m, ...content(m.data, 'sha512') };
}

/** Distribution-spec end-7b: PUT /v2/<name>/manifests/<digest>?tag=a&tag=b. */
describe('tags pushed with a manifest (?tag=)', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
  });
  after(async () => reg.close());

  it('tags the manifest in the same request, with an OCI-Tag header per tag', async () => {
    const name = repoName();
    const m = await freshManifest(reg, name);
    const res = await pushManifest(reg.r(), name, `${m.digest}?tag=1.2.3&tag=1.2&tag=latest`, m);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers['docker-content-digest'], m.digest);
    assert.deepEqual(ociTags(res.headers).sort(), ['1.2', '1.2.3', 'latest']);
    for (const tag of ['1.2.3', '1.2', 'latest']) {
      const got = await getRaw(reg.r(), `/v2/${name}/manifests/${tag}`).expect(200);
      assert.equal(got.headers['docker-content-digest'], m.digest);
      assert.ok(Buffer.compare(got.body as Buffer, m.data) === 0);
    }
    const list = await reg.r().get(`/v2/${name}/tags/list`).expect(200);
    assert.deepEqual((list.body as TagList).tags, ['1.2', '1.2.3', 'latest']);
  });

  it('takes at least ten tags at once, and a tag named twice once', async () => {
    const name = repoName();
    const m = await freshManifest(reg, name);
    const tags = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const query = [...tags, 't0'].map((t) => `tag=${t}`).join('&');
    const res = await pushManifest(reg.r(), name, `${m.digest}?${query}`, m).expect(201);
    assert.deepEqual(ociTags(res.headers).sort(), [...tags].sort());
    const list = await reg.r().get(`/v2/${name}/tags/list`).expect(200);
    assert.deepEqual((list.body as TagList).tags, [...tags].sort());
  });

  it('moves a tag that pointed elsewhere', async () => {
    const name = repoName();
    const old = await pushImage(reg.r(), name, 'stable');
    const m = await freshManifest(reg, name);
    await pushManifest(reg.r(), name, `${m.digest}?tag=stable`, m).expect(201);
    const got = await reg.r().head(`/v2/${name}/manifests/stable`).expect(200);
    assert.equal(got.headers['docker-content-digest'], m.digest);
    await reg.r().head(`/v2/${name}/manifests/${old.manifest.digest}`).expect(200);
  });

  it('works for a manifest pushed by a sha512 digest', async () => {
    const name = repoName();
    const m = await freshManifest(reg, name, 'sha512');
    assert.match(m.digest, /^sha512:/);
    const res = await pushManifest(reg.r(), name, `${m.digest}?tag=a&tag=b`, m).expect(201);
    assert.deepEqual(ociTags(res.headers).sort(), ['a', 'b']);
    for (const tag of ['a', 'b']) {
      const got = await getRaw(reg.r(), `/v2/${name}/manifests/${tag}`).expect(200);
      assert.equal(got.headers['docker-content-digest'], m.digest);
    }
  });

  it('a tag that breaks the grammar is 400 MANIFEST_INVALID, and nothing is stored or tagged', async () => {
    const name = repoName();
    const m = await freshManifest(reg, name);
    for (const bad of ['-leading-dash', '', 'a'.repeat(129), 'has%20space', '.dot']) {
      const res = await pushManifest(reg.r(), name, `${m.digest}?tag=good&tag=${bad}`, m);
      assertOciError(res, 400, ['MANIFEST_INVALID']);
      assert.equal(res.headers['oci-tag'], undefined);
    }
    await reg.r().head(`/v2/${name}/manifests/good`).expect(404);
    await reg.r().head(`/v2/${name}/manifests/${m.digest}`).expect(404);
  });

  it('a push by tag with ?tag= is 400 MANIFEST_INVALID (the spec defines tag parameters on pushes by digest only)', async () => {
    const name = repoName();
    const m = await freshManifest(reg, name);
    const res = await pushManifest(reg.r(), name, 'v1?tag=v2', m);
    assertOciError(res, 400, ['MANIFEST_INVALID']);
    await reg.r().head(`/v2/${name}/manifests/v1`).expect(404);
    await reg.r().head(`/v2/${name}/manifests/v2`).expect(404);
  });

  it('a push by digest without ?tag= answers no OCI-Tag header', async () => {
    const name = repoName();
    const m = await freshManifest(reg, name);
    const res = await pushManifest(reg.r(), name, m.digest, m).expect(201);
    assert.equal(res.headers['oci-tag'], undefined);
  });
});

describe('tags pushed with a manifest: write order', () => {
  it('each tag is written after the manifest data and its revision link', async () => {
    const { driver, writes } = recordingDriver(createMemoryDriver());
    const reg = await startRegistry({ driver });
    try {
      const name = repoName();
      const m = await freshManifest(reg, name);
      writes.length = 0;
      await sendBytes(reg.r().put(`/v2/${name}/manifests/${m.digest}?tag=x&tag=y`).set('Content-Type', m.mediaType), m.data).expect(201);
      const hex = m.digest.slice('sha256:'.length);
      const data = writes.findIndex((p) => p.endsWith(`/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`));
      const revision = writes.findIndex((p) => p.endsWith(`/_manifests/revisions/sha256/${hex}/link`));
      assert.ok(data >= 0 && revision >= 0, `writes: ${writes.join(', ')}`);
      for (const tag of ['x', 'y']) {
        const current = writes.findIndex((p) => p.endsWith(`/_manifests/tags/${tag}/current/link`));
        assert.ok(current > data && current > revision, `tag ${tag} written before what it leads to: ${writes.join(', ')}`);
      }
    } finally {
      await reg.close();
    }
  });
});
