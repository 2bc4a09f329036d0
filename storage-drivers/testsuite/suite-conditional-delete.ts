import assert from 'node:assert/strict';
import { PathNotFoundError } from '../errors';
import type { DefineTest, SuiteOptions } from './driver-suite';
import { walkPaths } from './helpers';

/** Rounds of conditional deletes racing writes of new content, each on PAIRS paths at once. */
const RACE_ROUNDS = 6;
const PAIRS = 32;

export function conditionalDeleteTests(define: DefineTest, options: SuiteOptions): void {
  define('deleteIf removes a file only while it holds the expected bytes', async (driver, base) => {
    const path = `${base}/tag/current/link`;
    await driver.putContent(path, Buffer.from('sha256:aaaa'));
    assert.equal(await driver.deleteIf(path, Buffer.from('sha256:bbbb')), false);
    assert.equal(await driver.deleteIf(path, Buffer.from('sha256:aaa')), false, 'a prefix of the content is not the content');
    assert.equal(await driver.deleteIf(path, Buffer.from('sha256:aaaa\n')), false, 'nor is more than it');
    assert.equal((await driver.getContent(path)).toString(), 'sha256:aaaa');
    assert.equal(await driver.deleteIf(path, Buffer.from('sha256:aaaa')), true);
    await assert.rejects(driver.getContent(path), PathNotFoundError);
    assert.equal(await driver.statFile(path), null);
    assert.equal(await driver.deleteIf(path, Buffer.from('sha256:aaaa')), false, 'nothing is left to delete');
    assert.equal(await driver.deleteIf(`${base}/never/written`, Buffer.from('x')), false);
    // A directory is not a file, whatever is below it.
    await driver.putContent(`${base}/dir/file`, Buffer.from(''));
    assert.equal(await driver.deleteIf(`${base}/dir`, Buffer.from('')), false);
    assert.equal((await driver.getContent(`${base}/dir/file`)).length, 0);
    assert.equal(await driver.deleteIf(`${base}/dir/file`, new Uint8Array(0)), true, 'an empty file matches empty bytes');
    assert.deepEqual(await driver.purgeLeftovers(new Date(Date.now() + 60_000), { dryRun: true }), [], 'a conditional delete strands nothing');
    // Only directories are left (on drivers that have them), and pruning takes them all.
    await driver.pruneDirs(base);
  });

  // Not defined where the driver documents the window (see SuiteOptions).
  if (!options.racyConditionalDelete)
    define('deleteIf racing a write of new content never loses the write', async (driver, base) => {
      let deletes = 0;
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const paths = Array.from({ length: PAIRS }, (_, i) => `${base}/r${round}/t${i}/current/link`);
        await Promise.all(paths.map((p) => driver.putContent(p, Buffer.from(`old-${p}`))));
        // The write starts first and the delete a varying number of event-loop turns later, so that
        // across pairs the write's rename lands before, inside and after the delete's steps.
        const results = await Promise.all(
          paths.map(async (p, i) => {
            const writing = driver.putContent(p, Buffer.from(`new-${p}`), { durable: false });
            for (let turn = 0; turn < i % 8; turn++) await new Promise((resolve) => setImmediate(resolve));
            const [deleted] = await Promise.all([driver.deleteIf(p, Buffer.from(`old-${p}`)), writing]);
            return deleted;
          }),
        );
        deletes += results.filter(Boolean).length;
        for (const p of paths) assert.equal((await driver.getContent(p)).toString(), `new-${p}`, `round ${round}: the write beside the delete was lost`);
      }
      assert.ok(deletes < RACE_ROUNDS * PAIRS, 'every delete came before its write: the race was never run');
      await driver.delete(base);
    });

  define('pruneDirs removes empty directories and keeps every file with the way to it', async (driver, base) => {
    const root = `${base}/tag`;
    await driver.putContent(`${root}/current/link`, Buffer.from('a'));
    await driver.putContent(`${root}/index/sha256/1/link`, Buffer.from('1'));
    await driver.putContent(`${root}/index/sha256/2/link`, Buffer.from('2'));
    await driver.delete(`${root}/index/sha256/1/link`);
    assert.equal(await driver.deleteIf(`${root}/index/sha256/2/link`, Buffer.from('2')), true);
    await driver.pruneDirs(root);
    assert.deepEqual(await walkPaths(driver, base), [`${base}/tag`, `${base}/tag/current`, `${base}/tag/current/link`]);
    assert.equal(await driver.deleteIf(`${root}/current/link`, Buffer.from('a')), true);
    await driver.pruneDirs(root);
    await assert.rejects(driver.stat(root), PathNotFoundError);
    // Nothing to do for a path that is absent, or a file.
    await driver.pruneDirs(`${base}/absent`);
    await driver.putContent(`${base}/file`, Buffer.from('f'));
    await driver.pruneDirs(`${base}/file`);
    assert.equal((await driver.getContent(`${base}/file`)).toString(), 'f');
    await driver.delete(base);
  });
}
