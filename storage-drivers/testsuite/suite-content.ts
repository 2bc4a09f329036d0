import assert from 'node:assert/strict';
import { InvalidOffsetError, PathNotFoundError } from '../errors';
import type { DefineTest } from './driver-suite';
import { copyTo } from '../streams';
import { assertContent, HashSink, hashStream, Pattern, putPattern, readAll } from './helpers';

const MiB = 1 << 20;

export function contentTests(define: DefineTest): void {
  define('putContent and getContent round-trip', async (driver, base) => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await driver.putContent(`${base}/bytes`, all);
    await driver.putContent(`${base}/empty`, new Uint8Array(0));
    await driver.putContent(`${base}/dir/link`, new TextEncoder().encode('sha256:abc'));
    assert.deepEqual(await driver.getContent(`${base}/bytes`), all);
    assert.equal((await driver.getContent(`${base}/empty`)).length, 0);
    assert.equal((await driver.getContent(`${base}/dir/link`)).toString(), 'sha256:abc');
    const info = await driver.stat(`${base}/bytes`);
    assert.deepEqual([info.path, info.size, info.isDir], [`${base}/bytes`, 256, false]);
    assert.ok(info.modTime instanceof Date && !Number.isNaN(info.modTime.getTime()));
    const dir = await driver.stat(`${base}/dir`);
    assert.deepEqual([dir.path, dir.isDir], [`${base}/dir`, true]);
    assert.deepEqual(await readAll(await driver.reader(`${base}/bytes`)), all);
    await driver.delete(base);
  });

  define('missing paths and directories are PathNotFoundError', async (driver, base) => {
    await driver.putContent(`${base}/dir/file`, Buffer.from('x'));
    for (const path of [`${base}/nope`, `${base}/dir/file/below`, `${base}/dir`]) {
      await assert.rejects(driver.getContent(path), PathNotFoundError, `getContent ${path}`);
      await assert.rejects(driver.reader(path).then(readAll), PathNotFoundError, `reader ${path}`);
    }
    await assert.rejects(driver.stat(`${base}/nope`), PathNotFoundError);
    await assert.rejects(driver.stat(`${base}/dir/file/below`), PathNotFoundError);
    await driver.delete(base);
  });

  define('putContent replaces atomically: readers see old or new, never a mix', async (driver, base) => {
    const path = `${base}/object`;
    const versions = [Buffer.alloc(300_000, 'a'), Buffer.alloc(200_000, 'b'), Buffer.alloc(400_000, 'c')];
    await driver.putContent(path, versions[0]);
    let writing = true;
    const reads = (async () => {
      let count = 0;
      while (writing || count < 5) {
        const got = await driver.getContent(path);
        assert.ok(versions.some((v) => v.equals(got)), `read a mixed object of ${got.length} bytes`);
        const streamed = await readAll(await driver.reader(path));
        assert.ok(versions.some((v) => v.equals(streamed)), `streamed a mixed object of ${streamed.length} bytes`);
        count++;
      }
    })();
    for (let i = 1; i <= 20; i++) await driver.putContent(path, versions[i % 3]);
    writing = false;
    await reads;
    assert.deepEqual(await driver.getContent(path), versions[20 % 3]);
    await driver.delete(base);
  });

  define('a 64 MiB stream round-trips without holding it in memory', async (driver, base) => {
    const size = 64 * MiB + 7;
    const pattern = new Pattern(1);
    await putPattern(driver, `${base}/big`, pattern, size);
    await assertContent(driver, `${base}/big`, pattern, size);
    await driver.delete(base);
  });

  define('tiny streams: zero bytes and one byte', async (driver, base) => {
    const empty = await driver.writer(`${base}/zero`, { append: false });
    empty.end();
    await empty.commit();
    assert.equal((await driver.stat(`${base}/zero`)).size, 0);
    assert.equal((await driver.getContent(`${base}/zero`)).length, 0);
    assert.equal((await readAll(await driver.reader(`${base}/zero`))).length, 0);
    const one = await driver.writer(`${base}/one`, { append: false });
    one.end(Buffer.from('!'));
    await one.commit();
    assert.equal((await driver.getContent(`${base}/one`)).toString(), '!');
    assert.equal((await readAll(await driver.reader(`${base}/one`, { offset: 1 }))).length, 0);
    await driver.delete(base);
  });

  define('ranged reads honour offset and length', async (driver, base) => {
    const size = 3 * MiB + 5;
    const pattern = new Pattern(2);
    const path = `${base}/ranged`;
    await putPattern(driver, path, pattern, size);
    const cases: [number, number | undefined, number, number][] = [
      [0, undefined, 0, size],
      [1, undefined, 1, size],
      [MiB - 1, 2, MiB - 1, MiB + 1],
      [MiB, MiB, MiB, 2 * MiB],
      [12345, 0, 12345, 12345],
      [2 * MiB + 3, 10 * MiB, 2 * MiB + 3, size],
      [size - 1, undefined, size - 1, size],
      [size, undefined, size, size],
      [size, 10, size, size],
    ];
    for (const [offset, length, start, end] of cases) {
      const got = await hashStream(await driver.reader(path, { offset, length }));
      assert.equal(got.size, end - start, `size of offset=${offset} length=${length}`);
      assert.equal(got.sha256, pattern.sha256(start, end), `bytes of offset=${offset} length=${length}`);
    }
    for (const offset of [size + 1, size + MiB, -1]) {
      await assert.rejects(driver.reader(path, { offset }).then(readAll), (err: unknown) => {
        assert.ok(err instanceof InvalidOffsetError, `offset ${offset}: ${String(err)}`);
        assert.equal(err.offset, offset);
        assert.equal(err.path, path);
        return true;
      });
    }
    await driver.delete(base);
  });

  define('redirectUrl answers a URL only for drivers that redirect', async (driver, base, options) => {
    await driver.putContent(`${base}/blob`, Buffer.from('x'));
    for (const method of ['GET', 'HEAD'] as const) {
      const url = await driver.redirectUrl(`${base}/blob`, { method, expiresIn: 300 });
      if (options.redirects) {
        assert.ok(url !== null && /^https?:$/.test(new URL(url).protocol), `redirect URL ${url}`);
      } else {
        assert.equal(url, null);
      }
    }
    await driver.delete(base);
  });

  define('a reader destroyed after its first bytes disturbs no read beside it, then or after', async (driver, base) => {
    // The image analysis sniffs a blob's first bytes and drops the rest while a client downloads
    // the same blob: the dropped read must not cut, mix or stall the download, nor leave a broken
    // connection to the reads that come after.
    const path = `${base}/blob`;
    const size = 8 * MiB + 5;
    const pattern = new Pattern(11);
    await putPattern(driver, path, pattern, size);
    const whole = pattern.sha256(0, size);
    const sniff = async () => {
      const reader = await driver.reader(path);
      await new Promise<void>((resolve, reject) => {
        reader.once('error', reject);
        reader.once('readable', () => {
          reader.read(512);
          reader.destroy();
          resolve();
        });
      });
    };
    for (let round = 0; round < 3; round++) {
      const download = (async () => {
        const sink = new HashSink();
        await copyTo(await driver.reader(path), sink);
        return sink.result();
      })();
      await Promise.all([sniff(), sniff(), sniff(), sniff()]);
      assert.deepEqual(await download, { sha256: whole, size }, `round ${round}`);
    }
    // The connections those reads used, or their replacements, serve whole reads afterwards.
    for (let i = 0; i < 4; i++) assert.equal((await hashStream(await driver.reader(path))).sha256, whole);
    await driver.delete(base);
  });
}
