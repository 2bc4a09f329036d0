// Spec v1.1.1 "Push" workflow, "Pushing Manifests": by tag and digest, byte-exact storage, references, subject, limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SPEC_ERROR_CODES, expectError, expectStatus } from './client';
import { pushBlob, pushManifest } from './actions';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, configBlob, descriptorOf, imageIndex, imageManifest, randomBlob, uniqueName, unknownDigest, type Blob } from './fixtures';
import { openTarget, type Target } from './target';

describe('push: manifests', () => {
  let target: Target;
  const name = uniqueName('push-manifests');
  let config: Blob;
  let layer: Blob;

  before(async () => {
    target = await openTarget();
    config = configBlob();
    layer = randomBlob(1500);
    await pushBlob(target.client, name, config);
    await pushBlob(target.client, name, layer);
  });
  after(async () => {
    await target?.close();
  });

  test('PUT by tag: 201, a pullable Location, Docker-Content-Digest equal to the digest of the bytes', async () => {
    const manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [descriptorOf(layer, OCI_LAYER)], space: 1 });
    const put = await pushManifest(target.client, name, 'by-tag', manifest);
    assert.equal(put.headers.get('docker-content-digest'), manifest.digest);
    const res = await target.client.get(target.client.location(put), { Accept: manifest.mediaType });
    expectStatus(res, 200);
    assert.deepEqual(res.body, manifest.bytes);
  });

  test('PUT by digest: 201 and the manifest is pullable by that digest', async () => {
    const manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [], annotations: { by: 'digest' } });
    const put = await pushManifest(target.client, name, manifest.digest, manifest);
    assert.equal(put.headers.get('docker-content-digest'), manifest.digest);
    const res = await target.client.get(`/v2/${name}/manifests/${manifest.digest}`, { Accept: manifest.mediaType });
    expectStatus(res, 200);
    assert.deepEqual(res.body, manifest.bytes);
  });

  test('PUT by a digest that does not match the bytes is rejected with 400', async () => {
    const manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [], annotations: { wrong: 'digest' } });
    const res = await target.client.send('PUT', `/v2/${name}/manifests/${unknownDigest()}`, {
      headers: { 'Content-Type': manifest.mediaType },
      body: manifest.bytes,
    });
    expectError(res, 400, ['DIGEST_INVALID', 'MANIFEST_INVALID']);
  });

  test('a manifest referencing a blob unknown to the registry: if rejected, then with MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = randomBlob(100);
    const manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [descriptorOf(missing, OCI_LAYER)] });
    const res = await target.client.send('PUT', `/v2/${name}/manifests/missing-blob`, {
      headers: { 'Content-Type': manifest.mediaType },
      body: manifest.bytes,
    });
    if (res.status === 201 && !target.strict) return;
    expectError(res, 400, ['MANIFEST_BLOB_UNKNOWN']);
    expectStatus(await target.client.head(`/v2/${name}/manifests/missing-blob`), 404);
  });

  test('an image index: 201, then GET returns its bytes with the index Content-Type', async () => {
    const child = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [descriptorOf(layer, OCI_LAYER)], annotations: { child: 'yes' } });
    await pushManifest(target.client, name, child.digest, child);
    const index = imageIndex([child.descriptor]);
    const put = await pushManifest(target.client, name, 'an-index', index);
    assert.equal(put.headers.get('docker-content-digest'), index.digest);
    const res = await target.client.get(`/v2/${name}/manifests/an-index`, { Accept: OCI_INDEX });
    expectStatus(res, 200);
    assert.equal(res.headers.get('content-type')?.split(';')[0].trim(), OCI_INDEX);
    assert.deepEqual(res.body, index.bytes);
  });

  test('an index referencing a manifest unknown to the registry: if rejected, then with MANIFEST_BLOB_UNKNOWN', async () => {
    const absent = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [], annotations: { absent: 'yes' } });
    const index = imageIndex([absent.descriptor]);
    const res = await target.client.send('PUT', `/v2/${name}/manifests/missing-child`, {
      headers: { 'Content-Type': index.mediaType },
      body: index.bytes,
    });
    if (res.status === 201 && !target.strict) return;
    expectError(res, 400, ['MANIFEST_BLOB_UNKNOWN']);
  });

  test('a manifest whose subject does not exist is accepted, with OCI-Subject naming the subject', async () => {
    const subject = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [], annotations: { never: 'pushed' } });
    const referrer = imageManifest({
      config: descriptorOf(config, OCI_CONFIG),
      layers: [],
      subject: subject.descriptor,
      artifactType: 'application/vnd.example.sbom.v1',
    });
    const put = await pushManifest(target.client, name, referrer.digest, referrer);
    assert.equal(put.headers.get('oci-subject'), subject.digest);
  });

  test('PUT to a reference that breaks the tag grammar: 400 or 404, with an error code from the spec table', async () => {
    const manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [] });
    const res = await target.client.send('PUT', `/v2/${name}/manifests/.bad-tag`, {
      headers: { 'Content-Type': manifest.mediaType },
      body: manifest.bytes,
    });
    expectStatus(res, 400, 404);
    expectError(res, res.status, SPEC_ERROR_CODES);
  });

  test('malformed manifest JSON: 400 MANIFEST_INVALID', async () => {
    const res = await target.client.send('PUT', `/v2/${name}/manifests/broken`, {
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: Buffer.from('{"schemaVersion": 2, "config": '),
    });
    expectError(res, 400, ['MANIFEST_INVALID']);
  });

  test('a manifest over the registry limit (4 MiB here): 413', async (t) => {
    if (!target.strict) return t.skip('the limit is registry-specific');
    const manifest = imageManifest({
      config: descriptorOf(config, OCI_CONFIG),
      layers: [],
      annotations: { padding: 'x'.repeat(4 * 1024 * 1024 + 1) },
    });
    const res = await target.client.send('PUT', `/v2/${name}/manifests/huge`, {
      headers: { 'Content-Type': manifest.mediaType },
      body: manifest.bytes,
    });
    expectStatus(res, 413);
  });
});
