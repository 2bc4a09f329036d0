import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { content, descriptor, EMPTY_CONFIG, MT, ociManifest, pushBlob, pushManifest, randomBlob, repoName, type ErrorList } from './helpers';
import { assertOciError, startRegistry, type TestRegistry } from './server';

/**
 * Distribution's garbage collector deletes blob data but leaves the repositories' links. A manifest
 * pushed over such a link must be refused, or it could never be pulled.
 */
describe('links whose data is gone', () => {
  let root: string;
  let reg: TestRegistry;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-dangling-'));
    reg = await startRegistry({ driver: createFilesystemDriver({ rootDirectory: root }) });
  });
  after(async () => {
    await reg.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a manifest referencing a linked blob whose data was collected is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const name = repoName();
    const layer = randomBlob(2048);
    await pushBlob(reg.r(), name, EMPTY_CONFIG);
    await pushBlob(reg.r(), name, layer);
    const hex = layer.digest.slice('sha256:'.length);
    await rm(path.join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex), { recursive: true });

    assertOciError(await reg.r().get(`/v2/${name}/blobs/${layer.digest}`), 404, ['BLOB_UNKNOWN']);
    const m = ociManifest({ config: descriptor(EMPTY_CONFIG, MT.ociEmpty), layers: [descriptor(layer, MT.ociLayer)] });
    const res = await pushManifest(reg.r(), name, 'v1', m);
    assertOciError(res, 400, ['MANIFEST_BLOB_UNKNOWN']);
    assert.equal((res.body as ErrorList).errors[0].detail?.digest, layer.digest);
    assertOciError(await reg.r().get(`/v2/${name}/manifests/v1`), 404, ['MANIFEST_UNKNOWN']);

    // Pushing the blob again heals the link and the manifest goes through.
    await pushBlob(reg.r(), name, content(layer.data));
    assert.equal((await pushManifest(reg.r(), name, 'v1', m)).status, 201);
  });
});
