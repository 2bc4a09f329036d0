// Spec v1.1.1 "Content Management" workflow: deleting tags, manifests and blobs.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { type Reply, expectError, expectStatus, json } from './client';
import { pushBlob, pushImage, pushManifest } from './actions';
import { OCI_CONFIG, OCI_LAYER, configBlob, descriptorOf, imageManifest, randomBlob, uniqueName, unknownDigest, type Blob, type Manifest } from './fixtures';
import { openTarget, type Target } from './target';

describe('content management', () => {
  let target: Target;
  const name = uniqueName('management');

  before(async () => {
    target = await openTarget();
  });
  after(async () => {
    await target?.close();
  });

  /**
   * Registries MAY disable deletion and then MUST answer 400 or 405; Berth (strict) deletes.
   * Returns false when the registry declined, so the test can stop there.
   */
  function deleted(t: TestContext, res: Reply): boolean {
    if (!target.strict && (res.status === 400 || res.status === 405)) {
      t.diagnostic(`deletion disabled: ${res.request} → ${res.status}`);
      return false;
    }
    expectStatus(res, 202);
    return true;
  }

  async function freshImage(tags: string[]): Promise<{ manifest: Manifest; layer: Blob; config: Blob }> {
    const config = configBlob();
    const layer = randomBlob(2048);
    const manifest = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [descriptorOf(layer, OCI_LAYER)] });
    await pushImage(target.client, name, [config, layer], manifest, tags);
    return { manifest, layer, config };
  }

  test('DELETE a tag: 202, then GET of the tag is 404 while the manifest stays pullable by digest', async (t) => {
    const { manifest } = await freshImage(['doomed-tag', 'kept-tag']);
    if (!deleted(t, await target.client.delete(`/v2/${name}/manifests/doomed-tag`))) return;
    expectError(await target.client.get(`/v2/${name}/manifests/doomed-tag`), 404, ['MANIFEST_UNKNOWN']);
    expectStatus(await target.client.get(`/v2/${name}/manifests/${manifest.digest}`, { Accept: manifest.mediaType }), 200);
    expectStatus(await target.client.get(`/v2/${name}/manifests/kept-tag`, { Accept: manifest.mediaType }), 200);
    const tags = json<{ tags: string[] | null }>(await target.client.get(`/v2/${name}/tags/list`)).tags ?? [];
    assert.ok(!tags.includes('doomed-tag') && tags.includes('kept-tag'), `tags after delete: ${tags.join(',')}`);
  });

  test('DELETE a manifest by digest: 202, then the digest and every tag pointing to it are 404', async (t) => {
    const { manifest } = await freshImage(['gone-1', 'gone-2']);
    if (!deleted(t, await target.client.delete(`/v2/${name}/manifests/${manifest.digest}`))) return;
    expectError(await target.client.get(`/v2/${name}/manifests/${manifest.digest}`), 404, ['MANIFEST_UNKNOWN']);
    for (const tag of ['gone-1', 'gone-2']) expectStatus(await target.client.get(`/v2/${name}/manifests/${tag}`), 404);
    expectStatus(await target.client.head(`/v2/${name}/manifests/${manifest.digest}`), 404);
  });

  test('DELETE a manifest in a repository that does not exist: 404', async () => {
    const res = await target.client.delete(`/v2/${uniqueName('absent')}/manifests/${unknownDigest()}`);
    expectError(res, 404, ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN']);
  });

  test('DELETE an unknown manifest digest in an existing repository: 404 MANIFEST_UNKNOWN', async () => {
    await freshImage(['present']);
    expectError(await target.client.delete(`/v2/${name}/manifests/${unknownDigest()}`), 404, ['MANIFEST_UNKNOWN']);
  });

  test('DELETE a blob: 202, then 404 BLOB_UNKNOWN on GET and on a second DELETE', async (t) => {
    const blob = randomBlob(4000);
    await pushBlob(target.client, name, blob);
    if (!deleted(t, await target.client.delete(`/v2/${name}/blobs/${blob.digest}`))) return;
    expectError(await target.client.get(`/v2/${name}/blobs/${blob.digest}`), 404, ['BLOB_UNKNOWN']);
    expectStatus(await target.client.head(`/v2/${name}/blobs/${blob.digest}`), 404);
    expectError(await target.client.delete(`/v2/${name}/blobs/${blob.digest}`), 404, ['BLOB_UNKNOWN']);
  });

  test('DELETE an unknown blob: 404', async () => {
    await freshImage(['for-blob-404']);
    expectError(await target.client.delete(`/v2/${name}/blobs/${unknownDigest()}`), 404, ['BLOB_UNKNOWN']);
  });

  test('deleting a blob from one repository leaves it in another that holds it', async (t) => {
    const blob = randomBlob(1000);
    const other = uniqueName('management-other');
    await pushBlob(target.client, name, blob);
    await pushBlob(target.client, other, blob);
    if (!deleted(t, await target.client.delete(`/v2/${name}/blobs/${blob.digest}`))) return;
    expectStatus(await target.client.head(`/v2/${name}/blobs/${blob.digest}`), 404);
    const res = await target.client.get(`/v2/${other}/blobs/${blob.digest}`);
    expectStatus(res, 200);
    assert.deepEqual(res.body, blob.data);
  });

  describe('referrers after deletes', () => {
    let subject: Manifest;
    let referrer: Manifest;

    before(async () => {
      subject = (await freshImage(['subject'])).manifest;
      const config = configBlob();
      await pushBlob(target.client, name, config);
      referrer = imageManifest({ config: descriptorOf(config, OCI_CONFIG), layers: [], subject: subject.descriptor, artifactType: 'application/vnd.example.sig' });
      await pushManifest(target.client, name, referrer.digest, referrer);
    });

    const listed = async () => {
      const res = await target.client.get(`/v2/${name}/referrers/${subject.digest}`);
      expectStatus(res, 200);
      return json<{ manifests: Array<{ digest: string }> }>(res).manifests.map((d) => d.digest);
    };

    test('a deleted referrer is no longer listed by the referrers API', async (t) => {
      assert.deepEqual(await listed(), [referrer.digest]);
      if (!deleted(t, await target.client.delete(`/v2/${name}/manifests/${referrer.digest}`))) return;
      assert.deepEqual(await listed(), []);
    });
  });
});
