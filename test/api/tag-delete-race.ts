import assert from 'node:assert/strict';
import type request from 'supertest';
import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { holdingWrites } from '../gc/race-scenarios';
import { assertStoreConsistent } from '../helpers/store-check';
import { pushImage, pushManifest, repoName, type Manifest, type TagList } from './helpers';
import { startRegistry, testConfig } from './server';

/**
 * A tag delete (DELETE by tag, or by the digest the tag names) racing a push of the same tag, each
 * interleaving made deterministic by holding one storage operation. Whatever the interleaving, the
 * outcome is one of the two serial orders: an acknowledged push that the delete came before keeps
 * its tag, and no tag is left listed without a current link (`phantom-tag` in the store check).
 */

const TAG = 'v1';

/** A delete that lands after the push wrote the tag's current link, before its index link. */
export type DeleteBetweenWrites = 'by tag' | 'by digest';

async function tagResolves(r: () => request.Agent, name: string, m: Manifest): Promise<void> {
  const got = await r().get(`/v2/${name}/manifests/${TAG}`).set('Accept', m.mediaType);
  assert.equal(got.status, 200, `GET ${TAG} after its push was acknowledged: ${got.text}`);
  assert.equal(got.headers['docker-content-digest'], m.digest);
  assert.equal((await r().get(`/v2/${name}/manifests/${m.digest}`).set('Accept', m.mediaType)).status, 200);
  const list = await r().get(`/v2/${name}/tags/list`);
  assert.equal(list.status, 200);
  assert.deepEqual((list.body as TagList).tags, [TAG]);
}

/**
 * The push writes the tag's current link, then the delete removes the whole tag (and, by digest,
 * the revision) and is answered, then the push writes its index link and is answered 201. The
 * delete came first, so the tag must name the pushed manifest (by digest: the one the delete
 * removed, pushed again).
 */
export async function deleteBetweenPushWrites(driver: StorageDriver, kind: DeleteBetweenWrites): Promise<void> {
  const holding = holdingWrites(driver);
  const reg = await startRegistry({ driver: holding.driver, config: testConfig() });
  try {
    const name = repoName('delrace');
    const old = await pushImage(reg.r(), name, TAG);
    const pushed = kind === 'by tag' ? (await pushImage(reg.r(), name)).manifest : old.manifest;
    holding.hold(paths.tagIndexLink(name, TAG, parseDigest(pushed.digest)));
    const putting = pushManifest(reg.r(), name, TAG, pushed).then((res) => res);
    await holding.atHold;
    const deleted = await reg.r().delete(`/v2/${name}/manifests/${kind === 'by tag' ? TAG : old.manifest.digest}`);
    assert.equal(deleted.status, 202, deleted.text);
    holding.release();
    const put = await putting;
    assert.equal(put.status, 201, put.text);
    await tagResolves(() => reg.r(), name, pushed);
    await assertStoreConsistent(driver);
  } finally {
    await reg.close();
  }
}

/**
 * The delete is held before it removes the tag while the push runs to its 201; then the delete goes
 * on and is answered. The push came first: the tag is gone, with nothing of it left listed.
 */
export async function pushWhileDeleteHeld(driver: StorageDriver): Promise<void> {
  let reached!: () => void;
  let release!: () => void;
  const atHold = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  const name = repoName('delrace');
  const held: StorageDriver = Object.create(driver) as StorageDriver;
  held.delete = async (path) => {
    if (path === paths.tagDir(name, TAG)) {
      reached();
      await released;
    }
    return driver.delete(path);
  };
  const reg = await startRegistry({ driver: held, config: testConfig() });
  try {
    await pushImage(reg.r(), name, TAG);
    const pushed = (await pushImage(reg.r(), name)).manifest;
    const deleting = reg.r().delete(`/v2/${name}/manifests/${TAG}`).then((res) => res);
    await atHold;
    const put = await pushManifest(reg.r(), name, TAG, pushed);
    assert.equal(put.status, 201, put.text);
    release();
    assert.equal((await deleting).status, 202);
    assert.equal((await reg.r().get(`/v2/${name}/manifests/${TAG}`)).status, 404);
    assert.deepEqual((await reg.r().get(`/v2/${name}/tags/list`)).body as TagList, { name, tags: [] });
    await assertStoreConsistent(driver);
  } finally {
    await reg.close();
  }
}
