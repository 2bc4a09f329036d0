import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerthProcess } from '../helpers/berth-process';
import { plantTemp, V2 } from '../helpers/leftovers';

/** A Berth on `root` that purges what is older than 2 s, every 500 ms. */
function startPurging(root: string, env: Record<string, string> = {}) {
  return startBerthProcess({
    env: {
      ...env,
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
      REGISTRY_HTTP_SECRET: 'purge-test-secret-0123456789abcdef',
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '2s',
      REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL: '500ms',
    },
  });
}

test('stale upload sessions are purged after the configured age, fresh ones survive', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-purge-'));
  const berth = await startPurging(root);
  try {
    const startUpload = async () => {
      const res = await fetch(`${berth.url}/v2/purge/me/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202);
      const location = new URL(res.headers.get('location')!, berth.url).toString();
      const patch = await fetch(location, { method: 'PATCH', body: Buffer.alloc(1000, 1), headers: { 'Content-Range': '0-999' } });
      assert.equal(patch.status, 202);
      return new URL(patch.headers.get('location')!, berth.url).toString();
    };
    const old = await startUpload();
    await new Promise((r) => setTimeout(r, 2500));
    const fresh = await startUpload();
    // Purging runs every 500 ms: within a few runs the old session is gone and the fresh one is not.
    let status = 0;
    for (let i = 0; i < 20 && status !== 404; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await fetch(old)).status;
    }
    assert.equal(status, 404, 'the stale session was not purged');
    const freshStatus = await fetch(fresh);
    assert.equal(freshStatus.status, 204);
    assert.equal(freshStatus.headers.get('range'), '0-999');
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('upload purging also removes temp files older than the purge age, and only those', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-purge-'));
  const hex = 'cd'.repeat(32);
  const old = [
    await plantTemp(root, `${V2}/blobs/sha256/cd/${hex}`, 3_600_000),
    await plantTemp(root, `${V2}/repositories/p/_manifests/revisions/sha256/${hex}`, 3_600_000),
    await plantTemp(root, `${V2}/repositories/p/_manifests/tags/t/current`, 3_600_000),
  ];
  // Dated in the future, so that it stays younger than the 2 s purge age throughout the test.
  const young = await plantTemp(root, `${V2}/repositories/p/_manifests/tags/t/current`, -3_600_000);
  const berth = await startPurging(root);
  try {
    const gone = async (f: string) => stat(f).then(() => false, () => true);
    let remaining = old;
    for (let i = 0; i < 40 && remaining.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      remaining = (await Promise.all(old.map(async (f) => ((await gone(f)) ? null : f)))).filter((f) => f !== null);
    }
    assert.deepEqual(remaining, [], 'old temp files were not purged');
    assert.equal(await gone(young), false, 'a young temp file was purged');
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('purging a stale session removes its saved hash state with it; a state left without data is purged too', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-purge-'));
  // A crash can leave a session whose state outlived its data: nothing but the marker and the state.
  const orphan = `${root}/${V2}/repositories/purge/me/_uploads/00000000-0000-4000-8000-000000000000`;
  await mkdir(orphan, { recursive: true });
  await writeFile(`${orphan}/startedat`, new Date(Date.now() - 3_600_000).toISOString());
  await writeFile(`${orphan}/berth-sha256-state`, 'left by a crash');
  const berth = await startPurging(root, { REGISTRY_STORAGE_UPLOADS_HASHSTATE: 'on', REGISTRY_STORAGE_UPLOADS_HASHSTATEMINSIZE: '0' });
  try {
    const res = await fetch(`${berth.url}/v2/purge/me/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    const location = new URL(res.headers.get('location')!, berth.url).toString();
    const patch = await fetch(location, { method: 'PATCH', body: Buffer.alloc(1000, 1), headers: { 'Content-Range': '0-999' } });
    assert.equal(patch.status, 202);
    const uuid = /\/blobs\/uploads\/([^/?]+)/.exec(location)![1];
    const session = `${root}/${V2}/repositories/purge/me/_uploads/${uuid}`;
    assert.ok((await stat(`${session}/berth-sha256-state`)).isFile(), 'the PATCH saved no hash state');
    const gone = async (p: string) => stat(p).then(() => false, () => true);
    for (let i = 0; i < 40 && !((await gone(session)) && (await gone(orphan))); i++) await new Promise((r) => setTimeout(r, 250));
    assert.ok(await gone(session), 'the stale session (and its state) was not purged');
    assert.ok(await gone(orphan), 'the session left with only its state was not purged');
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});
