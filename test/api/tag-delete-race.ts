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

/** One stop on a storage operation: `stop` waits there (once reached, `atHold` resolves) until `release`. */
function gate(): { atHold: Promise<void>; stop: () => Promise<void>; release: () => void } {
  let reached!: () => void;
  let release!: () => void;
  const atHold = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    atHold,
    stop: () => {
      reached();
      return released;
    },
    release: () => release(),
  };
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
  const { atHold, stop, release } = gate();
  const name = repoName('delrace');
  const held: StorageDriver = Object.create(driver) as StorageDriver;
  held.delete = async (path) => {
    if (path === paths.tagDir(name, TAG)) {
      await stop();
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

/**
 * A DELETE by digest is held once it has removed the manifest's tag, before it removes the
 * revision; the same manifest is pushed to the same tag meanwhile and answered 201. The push came
 * first, so the delete, answered after it, takes the tag again: none is left naming the revision
 * it removed (`tag-missing-revision`).
 */
export async function pushWhileDigestDeleteHeld(driver: StorageDriver): Promise<void> {
  const { atHold, stop, release } = gate();
  const name = repoName('delrace');
  let revisionDir: string | undefined;
  const held: StorageDriver = Object.create(driver) as StorageDriver;
  held.delete = async (path, opts) => {
    if (path === revisionDir) {
      await stop();
    }
    return driver.delete(path, opts);
  };
  const reg = await startRegistry({ driver: held, config: testConfig() });
  try {
    const { manifest } = await pushImage(reg.r(), name, TAG);
    revisionDir = paths.revisionDir(name, parseDigest(manifest.digest));
    const deleting = reg.r().delete(`/v2/${name}/manifests/${manifest.digest}`).then((res) => res);
    await atHold;
    const put = await pushManifest(reg.r(), name, TAG, manifest);
    assert.equal(put.status, 201, put.text);
    release();
    assert.equal((await deleting).status, 202);
    assert.equal((await reg.r().get(`/v2/${name}/manifests/${TAG}`)).status, 404);
    assert.equal((await reg.r().get(`/v2/${name}/manifests/${manifest.digest}`)).status, 404);
    assert.deepEqual((await reg.r().get(`/v2/${name}/tags/list`)).body as TagList, { name, tags: [] });
    await assertStoreConsistent(driver);
  } finally {
    await reg.close();
  }
}

/**
 * A push of a tagged manifest is held after its revision link, before its tag's current link,
 * while a DELETE by digest of that manifest runs to its 202 (removing the old tag and the revision
 * the push had just written again). The push then writes its tag and is answered 201: the delete
 * came first, so the push must leave the tag and the manifest it names, revision link included.
 */
export async function digestDeleteBeforePushTags(driver: StorageDriver): Promise<void> {
  const holding = holdingWrites(driver);
  const reg = await startRegistry({ driver: holding.driver, config: testConfig() });
  try {
    const name = repoName('delrace');
    const { manifest } = await pushImage(reg.r(), name, TAG);
    holding.hold(paths.tagCurrentLink(name, TAG));
    const putting = pushManifest(reg.r(), name, TAG, manifest).then((res) => res);
    await holding.atHold;
    const deleted = await reg.r().delete(`/v2/${name}/manifests/${manifest.digest}`);
    assert.equal(deleted.status, 202, deleted.text);
    holding.release();
    const put = await putting;
    assert.equal(put.status, 201, put.text);
    await tagResolves(() => reg.r(), name, manifest);
    await assertStoreConsistent(driver);
  } finally {
    await reg.close();
  }
}

/**
 * A DELETE by digest is held once it has read the tag naming the manifest, before it removes
 * anything of the tag; a push of that tag to *another* manifest runs to its 201 meanwhile. The push
 * came first: the delete, answered after it, removes the revision it was asked to, and the tag must
 * still name the pushed manifest (the driver's conditional delete, `deleteIf`, refuses to remove a
 * current link that no longer holds what the delete read).
 */
export async function pushElsewhereWhileDigestDeleteHeld(driver: StorageDriver): Promise<void> {
  const { atHold, stop, release } = gate();
  const name = repoName('delrace');
  let armed = false;
  // Whichever way a delete takes the tag (a conditional delete of its current link, or the whole
  // directory), it waits here the first time.
  const hold = async (path: string): Promise<void> => {
    if (!armed || !path.startsWith(paths.tagDir(name, TAG))) return;
    armed = false;
    await stop();
  };
  const held: StorageDriver = Object.create(driver) as StorageDriver;
  held.deleteIf = async (path, expected) => {
    await hold(path);
    return driver.deleteIf(path, expected);
  };
  held.delete = async (path, opts) => {
    await hold(path);
    return driver.delete(path, opts);
  };
  const reg = await startRegistry({ driver: held, config: testConfig() });
  try {
    const old = (await pushImage(reg.r(), name, TAG)).manifest;
    const pushed = (await pushImage(reg.r(), name)).manifest;
    armed = true;
    const deleting = reg.r().delete(`/v2/${name}/manifests/${old.digest}`).then((res) => res);
    await atHold;
    const put = await pushManifest(reg.r(), name, TAG, pushed);
    assert.equal(put.status, 201, put.text);
    release();
    assert.equal((await deleting).status, 202);
    assert.equal((await reg.r().get(`/v2/${name}/manifests/${old.digest}`).set('Accept', old.mediaType)).status, 404);
    await tagResolves(() => reg.r(), name, pushed);
    await assertStoreConsistent(driver);
  } finally {
    await reg.close();
  }
}
