import assert from 'node:assert/strict';
import { PathNotFoundError } from '../errors';
import type { DefineTest } from './driver-suite';
import { assertContent, hashStream, Pattern, putPattern, walkPaths, writeSession } from './helpers';

const MiB = 1 << 20;

export function treeTests(define: DefineTest): void {
  define('move renames, replaces an existing file, and needs a source', async (driver, base) => {
    const pattern = new Pattern(9);
    await putPattern(driver, `${base}/src/data`, pattern, MiB + 3);
    await driver.move(`${base}/src/data`, `${base}/new/dir/data`);
    await assert.rejects(driver.stat(`${base}/src/data`), PathNotFoundError);
    await assertContent(driver, `${base}/new/dir/data`, pattern, MiB + 3);

    await driver.putContent(`${base}/other`, Buffer.from('replacement'));
    await driver.move(`${base}/other`, `${base}/new/dir/data`);
    assert.equal((await driver.getContent(`${base}/new/dir/data`)).toString(), 'replacement');
    await assert.rejects(driver.stat(`${base}/other`), PathNotFoundError);

    await assert.rejects(driver.move(`${base}/missing`, `${base}/new/dir/data`), (err: unknown) => {
      assert.ok(err instanceof PathNotFoundError);
      assert.equal(err.path, `${base}/missing`);
      return true;
    });
    assert.equal((await driver.getContent(`${base}/new/dir/data`)).toString(), 'replacement');
    await assert.rejects(driver.stat(`${base}/nowhere`), PathNotFoundError, 'a failed move creates nothing');
    await driver.delete(base);
  });

  define('move of a committed upload into place', async (driver, base) => {
    const pattern = new Pattern(10);
    await writeSession(driver, `${base}/uploads/u1/data`, pattern, 0, 3000, { append: false });
    await writeSession(driver, `${base}/uploads/u1/data`, pattern, 3000, 7000, { append: true, commit: true });
    await driver.move(`${base}/uploads/u1/data`, `${base}/blobs/ab/abcd/data`);
    await assertContent(driver, `${base}/blobs/ab/abcd/data`, pattern, 7000);
    await driver.delete(base);
  });

  define('delete is recursive and spares siblings sharing a prefix', async (driver, base) => {
    const keep = [`${base}/a/b-c`, `${base}/a/b.c`, `${base}/a/bc`, `${base}/a/bc/x`, `${base}/ab`];
    const gone = [`${base}/a/b/x`, `${base}/a/b/y/z`, `${base}/a/b/y/zz`];
    for (const path of [...keep.filter((p) => p !== `${base}/a/bc`), ...gone]) {
      await driver.putContent(path, Buffer.from(path));
    }
    await driver.delete(`${base}/a/b`);
    for (const path of [`${base}/a/b`, ...gone]) await assert.rejects(driver.stat(path), PathNotFoundError, path);
    for (const path of keep) assert.ok(await driver.stat(path), path);
    assert.equal((await driver.getContent(`${base}/a/bc/x`)).toString(), `${base}/a/bc/x`);
    await assert.rejects(driver.delete(`${base}/a/b`), PathNotFoundError, 'deleting twice');
    await assert.rejects(driver.delete(`${base}/a/b-c/deeper`), PathNotFoundError);
    await driver.delete(`${base}/ab`);
    await assert.rejects(driver.stat(`${base}/ab`), PathNotFoundError);
    assert.ok(await driver.stat(`${base}/a/b-c`));
    await driver.delete(base);
    await assert.rejects(driver.stat(base), PathNotFoundError);
  });

  define('list returns direct children, sorted', async (driver, base) => {
    const names = ['b', 'B', 'a', 'a.b', 'a-b', 'a_b', 'a:b', '0', 'ab', 'a0', 'Z'];
    for (const name of names) await driver.putContent(`${base}/dir/${name}`, Buffer.from(name));
    await driver.putContent(`${base}/dir/sub/deep/file`, Buffer.from('x'));
    const expected = [...names, 'sub'].sort().map((name) => `${base}/dir/${name}`);
    assert.deepEqual(await driver.list(`${base}/dir`), expected);
    assert.deepEqual(await driver.list(`${base}/dir/sub`), [`${base}/dir/sub/deep`]);
    assert.deepEqual(await driver.list(base), [`${base}/dir`]);
    assert.ok((await driver.list('/')).includes(base));
    await assert.rejects(driver.list(`${base}/missing`), PathNotFoundError);
    await assert.rejects(driver.list(`${base}/dir/a`), PathNotFoundError, 'a file has no children');
    await driver.delete(base);
  });

  define('walk is depth-first and lexical, directories before their contents', async (driver, base) => {
    const files: Record<string, number> = {
      'a/b/c': 3,
      'a/b-c': 4,
      'a/b/d/e': 5,
      'a/bb': 6,
      'a0/x': 7,
      'A': 8,
      'z': 0,
    };
    for (const [name, size] of Object.entries(files)) await driver.putContent(`${base}/${name}`, Buffer.alloc(size));
    const expected: [string, boolean, number][] = [
      ['A', false, 8],
      ['a', true, 0],
      ['a/b', true, 0],
      ['a/b/c', false, 3],
      ['a/b/d', true, 0],
      ['a/b/d/e', false, 5],
      ['a/b-c', false, 4],
      ['a/bb', false, 6],
      ['a0', true, 0],
      ['a0/x', false, 7],
      ['z', false, 0],
    ];
    const seen: [string, boolean, number][] = [];
    for await (const info of driver.walk(base)) {
      seen.push([info.path.slice(base.length + 1), info.isDir, info.isDir ? 0 : info.size]);
    }
    assert.deepEqual(seen, expected);
    assert.deepEqual(await walkPaths(driver, `${base}/a/b/d`), [`${base}/a/b/d/e`]);
    await assert.rejects(walkPaths(driver, `${base}/missing`), PathNotFoundError);
    await driver.delete(base);
  });

  define('concurrent readers and writers', async (driver, base) => {
    const writers = Array.from({ length: 8 }, (_, i) => ({ path: `${base}/w${i}`, pattern: new Pattern(20 + i) }));
    const size = 2 * MiB + 17;
    await Promise.all(
      writers.map(async ({ path, pattern }) => {
        await writeSession(driver, path, pattern, 0, MiB, { append: false, chunkSize: 64 * 1024 });
        await writeSession(driver, path, pattern, MiB, size, { append: true, chunkSize: 4096, commit: true });
      }),
    );
    const reads = writers.flatMap(({ path, pattern }) =>
      [0, 1, 2].map(async (k) => {
        const offset = k * 1000;
        const got = await hashStream(await driver.reader(path, { offset }));
        assert.equal(got.sha256, pattern.sha256(offset, size), `${path} from ${offset}`);
      }),
    );
    const more = new Pattern(30);
    const writing = putPattern(driver, `${base}/w0-more`, more, 4 * MiB);
    await Promise.all([...reads, writing]);
    await assertContent(driver, `${base}/w0-more`, more, 4 * MiB);
    await driver.delete(base);
  });
}
