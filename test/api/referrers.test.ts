import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EMPTY_CONFIG,
  MT,
  content,
  descriptor,
  manifestDescriptor,
  ociIndex,
  ociManifest,
  pushBlob,
  pushImage,
  pushManifest,
  repoName,
  unknownDigest,
  type Descriptor,
  type Image,
  type Manifest,
} from './helpers';
import { assertOciError, startRegistry, type TestRegistry } from './server';

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

/** Spec "Listing Referrers" (end-12a/b) and "Pushing Manifests with Subject". */
describe('referrers', () => {
  let reg: TestRegistry;
  let name: string;
  let subject: Image;
  let sbom: Manifest;
  let signature: Manifest;
  let indexNoType: Manifest;
  let indexWithType: Manifest;
  const sigConfigType = 'application/vnd.example.signature.config.v1+json';

  before(async () => {
    reg = await startRegistry();
    name = repoName();
    subject = await pushImage(reg.r(), name, 'v1');
    const subj = manifestDescriptor(subject.manifest);
    await pushBlob(reg.r(), name, EMPTY_CONFIG);
    const sigConfig = content(Buffer.from('{"signer":"test"}'));
    await pushBlob(reg.r(), name, sigConfig);

    sbom = ociManifest({
      artifactType: 'application/vnd.example.sbom.v1',
      config: descriptor(EMPTY_CONFIG, MT.ociEmpty),
      subject: subj,
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
    });
    // No artifactType: the referrers descriptor takes the config's mediaType.
    signature = ociManifest({ config: descriptor(sigConfig, sigConfigType), subject: subj, annotations: { 'org.example.signature.fingerprint': 'abcd' } });
    indexNoType = ociIndex([manifestDescriptor(subject.manifest)], { subject: subj, annotations: { 'org.example.kind': 'bundle' } });
    indexWithType = ociIndex([manifestDescriptor(subject.manifest)], { subject: subj, artifactType: 'application/vnd.example.bundle.v1' });
    for (const m of [sbom, signature, indexNoType, indexWithType]) {
      const res = await pushManifest(reg.r(), name, m.digest, m);
      assert.equal(res.status, 201, res.text);
      assert.equal(res.headers['oci-subject'], subject.manifest.digest, 'OCI-Subject on every PUT with a subject');
    }
  });
  after(async () => reg.close());

  async function referrers(path: string, expectStatus = 200): Promise<{ body: ReferrersIndex; headers: Record<string, string> }> {
    const res = await reg.r().get(path).buffer(true);
    assert.equal(res.status, expectStatus, res.text);
    assert.equal(res.headers['content-type'], MT.ociIndex);
    const body = JSON.parse(res.text || (res.body as Buffer).toString()) as ReferrersIndex;
    assert.equal(body.schemaVersion, 2);
    assert.equal(body.mediaType, MT.ociIndex);
    assert.ok(Array.isArray(body.manifests));
    return { body, headers: res.headers };
  }

  function byDigest(list: Descriptor[]): Map<string, Descriptor> {
    return new Map(list.map((d) => [d.digest, d]));
  }

  it('lists every referrer with mediaType, size, digest, artifactType and annotations', async () => {
    const { body, headers } = await referrers(`/v2/${name}/referrers/${subject.manifest.digest}`);
    assert.equal(headers['oci-filters-applied'], undefined);
    const found = byDigest(body.manifests);
    assert.equal(found.size, 4);
    assert.equal(body.manifests.length, 4);
    assert.deepEqual(found.get(sbom.digest), {
      mediaType: MT.ociManifest,
      size: sbom.size,
      digest: sbom.digest,
      artifactType: 'application/vnd.example.sbom.v1',
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.sbom.format': 'json' },
    });
    assert.deepEqual(found.get(signature.digest), {
      mediaType: MT.ociManifest,
      size: signature.size,
      digest: signature.digest,
      artifactType: sigConfigType,
      annotations: { 'org.example.signature.fingerprint': 'abcd' },
    });
    // "If the artifactType is empty or missing in an index, the artifactType MUST be omitted."
    assert.deepEqual(found.get(indexNoType.digest), {
      mediaType: MT.ociIndex,
      size: indexNoType.size,
      digest: indexNoType.digest,
      annotations: { 'org.example.kind': 'bundle' },
    });
    const typed = found.get(indexWithType.digest);
    assert.equal(typed?.artifactType, 'application/vnd.example.bundle.v1');
    assert.equal(typed?.mediaType, MT.ociIndex);
  });

  it('filters on artifactType and says so in OCI-Filters-Applied', async () => {
    const type = 'application/vnd.example.sbom.v1';
    const { body, headers } = await referrers(`/v2/${name}/referrers/${subject.manifest.digest}?artifactType=${encodeURIComponent(type)}`);
    assert.equal(headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(body.manifests.map((d) => d.digest), [sbom.digest]);
    const byConfig = await referrers(`/v2/${name}/referrers/${subject.manifest.digest}?artifactType=${encodeURIComponent(sigConfigType)}`);
    assert.deepEqual(byConfig.body.manifests.map((d) => d.digest), [signature.digest]);
    const none = await referrers(`/v2/${name}/referrers/${subject.manifest.digest}?artifactType=application%2Fvnd.example.none`);
    assert.deepEqual(none.body.manifests, []);
  });

  it('an unknown subject gets 200 and an empty index, never 404', async () => {
    const { body } = await referrers(`/v2/${name}/referrers/${unknownDigest()}`);
    assert.deepEqual(body.manifests, []);
  });

  it('an unknown repository gets an empty index (or 404 NAME_UNKNOWN), never a 500', async () => {
    const res = await reg.r().get(`/v2/${repoName('ghost')}/referrers/${unknownDigest()}`);
    assert.notEqual(res.status, 500);
    if (res.status === 200) assert.deepEqual((JSON.parse(res.text) as ReferrersIndex).manifests, []);
    else assertOciError(res, 404, ['NAME_UNKNOWN']);
  });

  it('a referrer pushed before its subject is listed once the subject is asked for', async () => {
    const repo = repoName();
    const img = await pushImage(reg.r(), repo);
    const futureSubject = { mediaType: MT.ociManifest, digest: unknownDigest(), size: 42 };
    const early = ociManifest({ artifactType: 'application/vnd.example.early', config: img.manifest.json.config as never, subject: futureSubject });
    await pushManifest(reg.r(), repo, early.digest, early).expect(201);
    const { body } = await referrers(`/v2/${repo}/referrers/${futureSubject.digest}`);
    assert.deepEqual(body.manifests.map((d) => d.digest), [early.digest]);
  });

  it('referrers are per repository', async () => {
    const other = repoName();
    await pushImage(reg.r(), other);
    const { body } = await referrers(`/v2/${other}/referrers/${subject.manifest.digest}`);
    assert.deepEqual(body.manifests, []);
  });

  it('deleting a referrer removes it from the list', async () => {
    const repo = repoName();
    const img = await pushImage(reg.r(), repo, 'base');
    const a = ociManifest({ artifactType: 'application/vnd.example.a', config: img.manifest.json.config as never, subject: manifestDescriptor(img.manifest) });
    const b = ociManifest({ artifactType: 'application/vnd.example.b', config: img.manifest.json.config as never, subject: manifestDescriptor(img.manifest) });
    await pushManifest(reg.r(), repo, a.digest, a).expect(201);
    await pushManifest(reg.r(), repo, 'b-tag', b).expect(201);
    const before = await referrers(`/v2/${repo}/referrers/${img.manifest.digest}`);
    assert.deepEqual(new Set(before.body.manifests.map((d) => d.digest)), new Set([a.digest, b.digest]));
    await reg.r().delete(`/v2/${repo}/manifests/${a.digest}`).expect(202);
    const after = await referrers(`/v2/${repo}/referrers/${img.manifest.digest}`);
    assert.deepEqual(after.body.manifests.map((d) => d.digest), [b.digest]);
    await reg.r().delete(`/v2/${repo}/manifests/${b.digest}`).expect(202);
    const none = await referrers(`/v2/${repo}/referrers/${img.manifest.digest}`);
    assert.deepEqual(none.body.manifests, []);
  });

  it('a referrer tagged and untagged stays listed while its manifest exists', async () => {
    const repo = repoName();
    const img = await pushImage(reg.r(), repo, 'base');
    const r = ociManifest({ artifactType: 'application/vnd.example.t', config: img.manifest.json.config as never, subject: manifestDescriptor(img.manifest) });
    await pushManifest(reg.r(), repo, 'sig', r).expect(201);
    await reg.r().delete(`/v2/${repo}/manifests/sig`).expect(202);
    const { body } = await referrers(`/v2/${repo}/referrers/${img.manifest.digest}`);
    assert.deepEqual(body.manifests.map((d) => d.digest), [r.digest]);
  });

  it('an invalid digest is 400', async () => {
    for (const d of ['sha256:xyz', 'latest', `sha256:${'A'.repeat(64)}`]) {
      const res = await reg.r().get(`/v2/${name}/referrers/${d}`);
      assertOciError(res, 400, ['DIGEST_INVALID', 'MANIFEST_INVALID']);
    }
  });
});
