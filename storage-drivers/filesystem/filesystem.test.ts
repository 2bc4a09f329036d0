import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../index';
import { isNotFound } from '../errors';
import type { FileInfo, StorageDriver } from '../types';
import { runDriverSuite } from '../testsuite/driver-suite';
import { walkPaths } from '../testsuite/helpers';

/** Appends to an upload and replaces a link in a loop, printing a line per round, until killed. */
const KILLED_WRITER = `
const [index, root] = process.argv.slice(1);
const { createFilesystemDriver } = require(index);
(async () => {
  const driver = createFilesystemDriver({ rootDirectory: root });
  const writer = await driver.writer('/uploads/u1/data', { append: false });
  for (let i = 1; ; i++) {
    await new Promise((resolve, reject) => writer.write(Buffer.alloc(64 * 1024, i), (e) => (e ? reject(e) : resolve())));
    await driver.putContent('/meta/link', Buffer.alloc(256 * 1024, i));
    process.stdout.write(i + '\\n');
  }
})();
`;

async function freshDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
}

runDriverSuite('filesystem', async () => {
  const dir = await freshDirectory();
  return {
    driver: createFilesystemDriver({ rootDirectory: dir, readChunkSize: 256 * 1024 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}, { writesInPlace: true });

describe('filesystem driver specifics', () => {
  let dir: string;
  let driver: StorageDriver;
  before(async () => {
    dir = await freshDirectory();
    driver = createFilesystemDriver({ rootDirectory: dir });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('stores paths in the Distribution layout under the root', async () => {
    await driver.putContent('/docker/registry/v2/repositories/x/_layers/sha256/ab/link', Buffer.from('sha256:ab'));
    const names = await readdir(join(dir, 'docker/registry/v2/repositories/x/_layers/sha256/ab'));
    assert.deepEqual(names, ['link'], 'putContent leaves no temp file behind');
    await driver.delete('/docker');
  });

  it('ignores stale temp files left by a crashed putContent', async () => {
    await driver.putContent('/meta/link', Buffer.from('a'));
    const temps = await readdir(join(dir, 'meta'));
    assert.deepEqual(temps, ['link']);
    // A crash between create and rename leaves a temp file with whatever name scheme putContent uses;
    // reproduce it by writing the same shape of name as the driver does.
    await writeFile(join(dir, 'meta', '~tmp-0123456789abcdef01234567'), 'partial');
    assert.deepEqual(await driver.list('/meta'), ['/meta/link']);
    assert.deepEqual(await walkPaths(driver, '/'), ['/meta', '/meta/link']);
    await driver.putContent('/meta/link', Buffer.from('b'));
    assert.equal((await driver.getContent('/meta/link')).toString(), 'b');
    await driver.delete('/meta');
    assert.deepEqual(await readdir(dir), []);
  });

  it('purgeLeftovers removes temp files and directories older than the cutoff and nothing else', async () => {
    const v2 = '/docker/registry/v2';
    const dirs = {
      blob: `${v2}/blobs/sha256/ab/abcd`,
      revision: `${v2}/repositories/r/_manifests/revisions/sha256/abcd`,
      tag: `${v2}/repositories/r/_manifests/tags/latest/current`,
    };
    for (const d of Object.values(dirs)) await driver.putContent(`${d}/${d === dirs.blob ? 'data' : 'link'}`, Buffer.from('sha256:abcd'));
    const hourAgo = new Date(Date.now() - 3_600_000);
    const plant = async (path: string, bytes: number, old: boolean) => {
      await writeFile(join(dir, path), Buffer.alloc(bytes, 1));
      if (old) await utimes(join(dir, path), hourAgo, hourAgo);
    };
    await plant(`${dirs.blob}/~tmp-0123456789abcdef01234567`, 10, true);
    await plant(`${dirs.revision}/~tmp-1123456789abcdef01234567`, 20, true);
    await plant(`${dirs.tag}/~tmp-2123456789abcdef01234567`, 30, true);
    await plant(`${dirs.tag}/~tmp-3123456789abcdef01234567`, 40, false);
    // A temp directory counts as old only when everything in it is.
    await mkdir(join(dir, v2, '~tmp-olddir'));
    await plant(`${v2}/~tmp-olddir/a`, 5, true);
    await utimes(join(dir, v2, '~tmp-olddir'), hourAgo, hourAgo);
    await mkdir(join(dir, v2, '~tmp-busydir'));
    await plant(`${v2}/~tmp-busydir/a`, 5, false);
    await utimes(join(dir, v2, '~tmp-busydir'), hourAgo, hourAgo);

    const cutoff = new Date(Date.now() - 60_000);
    const expected = [
      { path: `${v2}/blobs/sha256/ab/abcd/~tmp-0123456789abcdef01234567`, size: 10, isDir: false },
      { path: `${v2}/repositories/r/_manifests/revisions/sha256/abcd/~tmp-1123456789abcdef01234567`, size: 20, isDir: false },
      { path: `${v2}/repositories/r/_manifests/tags/latest/current/~tmp-2123456789abcdef01234567`, size: 30, isDir: false },
      { path: `${v2}/~tmp-olddir`, size: 5, isDir: true },
    ];
    const brief = (found: FileInfo[]) =>
      found.map(({ path, size, isDir, modTime }) => {
        assert.ok(modTime < cutoff);
        return { path, size, isDir };
      }).sort((a, b) => (a.path < b.path ? -1 : 1));
    assert.deepEqual(brief(await driver.purgeLeftovers(cutoff, { dryRun: true })), expected);
    assert.equal((await readdir(join(dir, dirs.tag))).length, 3, 'a dry run removes nothing');
    assert.deepEqual(brief(await driver.purgeLeftovers(cutoff)), expected);
    assert.deepEqual(await readdir(join(dir, dirs.blob)), ['data']);
    assert.deepEqual(await readdir(join(dir, dirs.revision)), ['link']);
    assert.deepEqual(await readdir(join(dir, dirs.tag)), ['link', '~tmp-3123456789abcdef01234567']);
    assert.deepEqual((await readdir(join(dir, v2))).sort(), ['blobs', 'repositories', '~tmp-busydir']);
    assert.deepEqual(await driver.purgeLeftovers(cutoff), []);
    assert.equal((await driver.purgeLeftovers(new Date(Date.now() + 1000))).length, 2, 'the young ones are found once old enough');
    await driver.delete('/docker');
  });

  it('a process killed mid-write leaves its bytes only at its own path, and whole objects', async () => {
    await driver.putContent('/meta/link', Buffer.alloc(256 * 1024, 0));
    const child = spawn(process.execPath, ['-e', KILLED_WRITER, join(__dirname, '..', 'index.js'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      // Wait until the child has written a few MiB and replaced the link a few times, then kill it.
      let seen = '';
      for await (const chunk of child.stdout) {
        seen += String(chunk);
        if (seen.split('\n').length > 20) break;
      }
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    assert.deepEqual(await walkPaths(driver, '/'), ['/meta', '/meta/link', '/uploads', '/uploads/u1', '/uploads/u1/data']);
    const link = await driver.getContent('/meta/link');
    assert.equal(link.length, 256 * 1024);
    assert.ok(link.every((b) => b === link[0]), 'the link holds one whole version');
    const resumed = await driver.writer('/uploads/u1/data', { append: true });
    assert.equal(resumed.size, (await driver.stat('/uploads/u1/data')).size);
    assert.ok(resumed.size >= 20 * 64 * 1024);
    await resumed.cancel();
    await driver.delete('/uploads');
    await driver.delete('/meta');
  });

  it('serves an empty store when the root directory does not exist yet', async () => {
    const missing = createFilesystemDriver({ rootDirectory: join(dir, 'not-yet') });
    assert.deepEqual(await missing.list('/'), []);
    assert.deepEqual(await walkPaths(missing, '/'), []);
    assert.equal((await missing.stat('/')).isDir, true);
    await missing.putContent('/first', Buffer.from('x'));
    assert.deepEqual(await readdir(join(dir, 'not-yet')), ['first']);
    await rm(join(dir, 'not-yet'), { recursive: true });
  });

  it('a recursive delete racing writes below it removes what it finds again instead of failing on a directory no longer empty', async () => {
    // A tag's directory deleted while a push writes its links into it (docs/architecture.md, "Deletes
    // racing pushes"): a push writes a few links, so each delete races a burst of them. (A writer
    // that never stops could keep any delete busy for ever: the delete gives up after 20 rounds.)
    const failures: string[] = [];
    for (let round = 0; round < 300; round++) {
      await driver.putContent('/racing/tag/current/link', Buffer.from('x'));
      const burst = Array.from({ length: 4 }, (_, i) =>
        // A write may fail when the delete takes its directory or temp file away: only the delete is on trial.
        driver.putContent(`/racing/tag/index/sha256/${(round + i) % 8}/link`, Buffer.from(`${round}`)).catch(() => undefined),
      );
      await Promise.all([
        driver.delete('/racing').catch((err: unknown) => {
          if (!isNotFound(err)) failures.push(String(err));
        }),
        ...burst,
      ]);
    }
    assert.deepEqual(failures.slice(0, 3), []);
    await driver.delete('/racing').catch(() => undefined);
  });

  it('pruning a tag\'s emptied directories never fails or loses a write of its links racing it', async () => {
    // A delete by digest drops a tag with deleteIf and then prunes its directories, while a push of
    // the tag to another manifest writes its current and index links (docs/architecture.md).
    for (let round = 0; round < 200; round++) {
      await driver.putContent('/pruning/tag/current/link', Buffer.from('old'));
      assert.equal(await driver.deleteIf('/pruning/tag/current/link', Buffer.from('old')), true);
      const prunes = Array.from({ length: 3 }, () => driver.pruneDirs('/pruning/tag'));
      await Promise.all([...prunes, driver.putContent('/pruning/tag/current/link', Buffer.from(`new-${round}`))]);
      await driver.putContent(`/pruning/tag/index/sha256/${round}/link`, Buffer.from(`${round}`));
      assert.equal((await driver.getContent('/pruning/tag/current/link')).toString(), `new-${round}`);
      await driver.delete('/pruning');
    }
  });

  it('a file a conditional delete had set aside when its process died goes back to its name, unless a newer one is there', async () => {
    await driver.putContent('/aside/a/current/link', Buffer.from('a'));
    await driver.putContent('/aside/b/current/link', Buffer.from('b'));
    // What a kill between deleteIf's rename and its put-back leaves (conditional-delete.ts).
    await rename(join(dir, 'aside/a/current/link'), join(dir, 'aside/a/current/~aside-00ff00ff00ff00ff.link'));
    await rename(join(dir, 'aside/b/current/link'), join(dir, 'aside/b/current/~aside-0123456789abcdef.link'));
    await driver.putContent('/aside/b/current/link', Buffer.from('newer'));
    assert.equal(await driver.statFile('/aside/a/current/link'), null);
    assert.deepEqual(await driver.list('/aside/a/current'), [], 'no listing shows an aside file');
    // Younger than the cutoff, it may be a delete still running: left alone.
    assert.deepEqual(await driver.purgeLeftovers(new Date(Date.now() - 60_000)), []);
    const later = new Date(Date.now() + 60_000);
    const found = await driver.purgeLeftovers(later, { dryRun: true });
    assert.deepEqual(found.map((f) => f.path), ['/aside/a/current/~aside-00ff00ff00ff00ff.link', '/aside/b/current/~aside-0123456789abcdef.link']);
    assert.equal(await driver.statFile('/aside/a/current/link'), null, 'a dry run changes nothing');
    assert.equal((await driver.purgeLeftovers(later)).length, 2);
    assert.equal((await driver.getContent('/aside/a/current/link')).toString(), 'a');
    assert.equal((await driver.getContent('/aside/b/current/link')).toString(), 'newer', 'the newer write wins');
    assert.deepEqual(await readdir(join(dir, 'aside/a/current')), ['link']);
    assert.deepEqual(await readdir(join(dir, 'aside/b/current')), ['link']);
    assert.deepEqual(await driver.purgeLeftovers(later, { dryRun: true }), []);
    await driver.delete('/aside');
  });
});
