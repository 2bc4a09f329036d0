// Spec v1.1.1 "Pull" workflow: pulling manifests and blobs, checking existence with HEAD, Range reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, expectStatus } from './client';
import { pushImage } from './actions';
import { OCI_CONFIG, OCI_LAYER, configBlob, descriptorOf, imageManifest, randomBlob, uniqueName, unknownDigest, type Blob, type Manifest } from './fixtures';
import { openTarget, type Target } from './target';

describe('pull', () => {
  let target: Target;
  const name = uniqueName('pull');
  const tag = 'v1';
  let config: Blob;
  let layer: Blob;
  let manifest: Manifest;

  before(async () => {
    target = await openTarget();
    config = configBlob();
    layer = randomBlob(4096);
    // Indented JSON: the registry must return exactly these bytes, not a re-serialisation.
    manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [descriptorOf(layer, OCI_LAYER)], space: 3 });
    await pushImage(target.client, name, [config, layer], manifest, [tag]);
  });
  after(async () => {
    await target?.close();
  });

  test('GET /v2/ answers 200 (end-1: the registry implements the spec)', async () => {
    expectStatus(await target.client.get('/v2/'), 200);
  });

  for (const by of ['tag', 'digest'] as const) {
    test(`GET a manifest by ${by}: 200, the pushed bytes, their Content-Type and Docker-Content-Digest`, async () => {
      const ref = by === 'tag' ? tag : manifest.digest;
      const res = await target.client.get(`/v2/${name}/manifests/${ref}`, { Accept: manifest.mediaType });
      expectStatus(res, 200);
      assert.deepEqual(res.body, manifest.bytes);
      assert.equal(res.headers.get('content-type')?.split(';')[0].trim(), manifest.mediaType);
      assert.equal(res.headers.get('docker-content-digest'), manifest.digest);
    });

    test(`HEAD a manifest by ${by}: 200, Content-Length and Docker-Content-Digest, no body`, async () => {
      const ref = by === 'tag' ? tag : manifest.digest;
      const res = await target.client.head(`/v2/${name}/manifests/${ref}`, { Accept: manifest.mediaType });
      expectStatus(res, 200);
      assert.equal(res.headers.get('content-length'), String(manifest.bytes.length));
      assert.equal(res.headers.get('docker-content-digest'), manifest.digest);
      assert.equal(res.body.length, 0);
    });
  }

  test('GET a blob: 200, its bytes and a Docker-Content-Digest matching the body', async () => {
    const res = await target.client.get(`/v2/${name}/blobs/${layer.digest}`);
    expectStatus(res, 200);
    assert.deepEqual(res.body, layer.data);
    assert.equal(res.headers.get('docker-content-digest'), layer.digest);
  });

  test('HEAD a blob: 200 with its size in Content-Length and Docker-Content-Digest', async () => {
    const res = await target.client.head(`/v2/${name}/blobs/${layer.digest}`);
    expectStatus(res, 200);
    assert.equal(res.headers.get('content-length'), String(layer.size));
    assert.equal(res.headers.get('docker-content-digest'), layer.digest);
    assert.equal(res.body.length, 0);
  });

  test('GET a blob with a Range header: 206 with Content-Range and exactly those bytes (RFC 9110)', async () => {
    const res = await target.client.get(`/v2/${name}/blobs/${layer.digest}`, { Range: 'bytes=100-1123' });
    expectStatus(res, 206);
    assert.equal(res.headers.get('content-range'), `bytes 100-1123/${layer.size}`);
    assert.deepEqual(res.body, layer.data.subarray(100, 1124));
  });

  test('GET a blob with an unsatisfiable Range: 416 (RFC 9110)', async () => {
    const res = await target.client.get(`/v2/${name}/blobs/${layer.digest}`, { Range: `bytes=${layer.size + 10}-` });
    expectStatus(res, 416);
  });

  test('a manifest that is not in the repository: 404 MANIFEST_UNKNOWN on GET, 404 on HEAD', async () => {
    expectError(await target.client.get(`/v2/${name}/manifests/no-such-tag`), 404, ['MANIFEST_UNKNOWN']);
    expectError(await target.client.get(`/v2/${name}/manifests/${unknownDigest()}`), 404, ['MANIFEST_UNKNOWN']);
    expectStatus(await target.client.head(`/v2/${name}/manifests/no-such-tag`), 404);
  });

  test('a blob that is not in the repository: 404 BLOB_UNKNOWN on GET, 404 on HEAD', async () => {
    const digest = unknownDigest();
    expectError(await target.client.get(`/v2/${name}/blobs/${digest}`), 404, ['BLOB_UNKNOWN']);
    expectStatus(await target.client.head(`/v2/${name}/blobs/${digest}`), 404);
  });

  test('content of one repository is not pullable through another', async () => {
    const other = uniqueName('pull-other');
    expectError(await target.client.get(`/v2/${other}/manifests/${tag}`), 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
    expectError(await target.client.get(`/v2/${other}/blobs/${layer.digest}`), 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
  });

  test('a reference that breaks the tag grammar: 404, like any manifest the repository does not have (end-3)', async () => {
    // A tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} and "<reference> MUST NOT be in any other format".
    for (const ref of ['.starts-with-dot', 'a'.repeat(129)]) {
      expectError(await target.client.get(`/v2/${name}/manifests/${ref}`), 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
      expectStatus(await target.client.head(`/v2/${name}/manifests/${ref}`), 404);
    }
  });

  test('a malformed digest as reference: 400 or 404, with an error code from the spec', async () => {
    const res = await target.client.get(`/v2/${name}/manifests/sha256:totallywrong`);
    expectStatus(res, 400, 404);
    expectError(res, res.status, ['DIGEST_INVALID', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'UNSUPPORTED']);
  });
});
