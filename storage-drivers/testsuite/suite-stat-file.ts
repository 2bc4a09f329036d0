import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readAll } from './helpers';
import type { FileInfo } from '../types';
import type { DefineTest } from './driver-suite';

const shape = (info: FileInfo | null) => info && [info.path, info.size, info.isDir, info.modTime instanceof Date && !Number.isNaN(info.modTime.getTime())];

/** statFile, and the reader's size: what a caller learns of a file without stat. */
export function statFileTests(define: DefineTest): void {
  define('statFile reports a file, and null for an absent path or a directory', async (driver, base) => {
    await driver.putContent(`${base}/dir/file`, Buffer.alloc(300, 1));
    await driver.putContent(`${base}/empty`, new Uint8Array(0));
    assert.deepEqual(shape(await driver.statFile(`${base}/dir/file`)), [`${base}/dir/file`, 300, false, true]);
    assert.deepEqual(shape(await driver.statFile(`${base}/empty`)), [`${base}/empty`, 0, false, true]);
    assert.equal(await driver.statFile(`${base}/nope`), null, 'absent');
    assert.equal(await driver.statFile(`${base}/dir`), null, 'a directory is no file');
    assert.equal(await driver.statFile(`${base}/dir/file/below`), null, 'below a file');
    await driver.delete(base);
  });

  // Uploads stream into a writer and move the result: callers that want a file never see its bytes
  // before commit, except where the driver writes in place (the filesystem, like Distribution's).
  define('statFile sees an upload in progress only where the driver writes in place', async (driver, base, options) => {
    const path = `${base}/upload/data`;
    const writer = await driver.writer(path, { append: false });
    await pipeline(Readable.from([Buffer.alloc(1000, 1)]), writer);
    assert.equal((await driver.stat(path)).size, 1000, 'stat sees the upload');
    const during = await driver.statFile(path);
    if (options.writesInPlace) assert.deepEqual(shape(during), [path, 1000, false, true]);
    else assert.equal(during, null, 'an upload in progress is no file yet');
    const next = await driver.writer(path, { append: true });
    next.end(Buffer.alloc(24, 2));
    await next.commit();
    assert.deepEqual(shape(await driver.statFile(path)), [path, 1024, false, true], 'committed');
    await driver.delete(base);
  });

  // A blob GET announces the length before the body: the reader's size spares it a stat.
  define('a reader carries the whole file size, whatever range it reads', async (driver, base) => {
    const path = `${base}/file`;
    await driver.putContent(path, Buffer.alloc(5000, 7));
    for (const opts of [{}, { offset: 100 }, { offset: 100, length: 10 }, { offset: 5000 }, { offset: 0, length: 0 }]) {
      const stream = await driver.reader(path, opts);
      assert.equal(stream.fileSize, 5000, JSON.stringify(opts));
      await readAll(stream);
    }
    await driver.delete(base);
  });
}
