import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PathNotFoundError } from '../errors';
import type { FileWriter, StorageDriver } from '../types';
import type { DefineTest } from './driver-suite';
import { assertContent, hashStream, Pattern, putPattern, readAll, writeSession } from './helpers';

const MiB = 1 << 20;

async function threeSessions(driver: StorageDriver, path: string, seed: number, sizes: number[], chunkSize: number) {
  const pattern = new Pattern(seed);
  let offset = 0;
  for (const [i, size] of sizes.entries()) {
    const last = i === sizes.length - 1;
    await writeSession(driver, path, pattern, offset, offset + size, { append: i > 0, chunkSize, commit: last });
    offset += size;
    if (!last) assert.equal((await driver.stat(path)).size, offset, 'stat sees uncommitted bytes');
  }
  await assertContent(driver, path, pattern, offset);
}

function write(writer: FileWriter, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => writer.write(data, (err) => (err ? reject(err) : resolve())));
}

export function writerTests(define: DefineTest): void {
  define('append across three writer sessions with large chunks', async (driver, base) => {
    await threeSessions(driver, `${base}/data`, 3, [6 * MiB + 1, 5 * MiB + 3, 7 * MiB + 11], MiB);
    await driver.delete(base);
  });

  define('append across three writer sessions with 32-byte chunks', async (driver, base) => {
    await threeSessions(driver, `${base}/data`, 4, [40_000, 33_333, 70_001], 32);
    await driver.delete(base);
  });

  define('zero bytes, then append', async (driver, base) => {
    const path = `${base}/data`;
    const first = await driver.writer(path, { append: false });
    first.end();
    await new Promise((resolve) => first.on('finish', resolve));
    assert.equal(first.size, 0);
    assert.equal((await driver.stat(path)).size, 0);
    const pattern = new Pattern(5);
    await writeSession(driver, path, pattern, 0, 1000, { append: true, chunkSize: 100, commit: true });
    await assertContent(driver, path, pattern, 1000);
    await driver.delete(base);
  });

  define('commit makes content readable; a new writer replaces it', async (driver, base) => {
    const path = `${base}/data`;
    const writer = await driver.writer(path, { append: false });
    await write(writer, Buffer.from('hello '));
    await write(writer, Buffer.from('world'));
    assert.equal(writer.size, 11);
    await writer.commit(); // without end(): commit ends the stream itself
    assert.equal((await driver.getContent(path)).toString(), 'hello world');
    await writer.cancel(); // a no-op after commit
    assert.equal((await driver.getContent(path)).toString(), 'hello world');
    const again = await driver.writer(path, { append: false });
    assert.equal(again.size, 0);
    again.end(Buffer.from('bye'));
    await again.commit();
    assert.equal((await driver.getContent(path)).toString(), 'bye');
    await driver.delete(base);
  });

  define('stat and list see uncommitted data', async (driver, base) => {
    const path = `${base}/upload/data`;
    const writer = await driver.writer(path, { append: false });
    await write(writer, Buffer.alloc(1000, 1));
    assert.equal((await driver.stat(path)).size, 1000, 'stat while the writer is open');
    assert.deepEqual(await driver.list(`${base}/upload`), [path]);
    await pipeline(Readable.from([Buffer.alloc(24, 2)]), writer);
    assert.equal((await driver.stat(path)).size, 1024, 'stat after the writer ended');
    const next = await driver.writer(path, { append: true });
    assert.equal(next.size, 1024);
    next.end(Buffer.alloc(1, 3));
    await next.commit();
    const data = await driver.getContent(path);
    assert.deepEqual([data.length, data[0], data[1000], data[1024]], [1025, 1, 2, 3]);
    await driver.delete(base);
  });

  // What a commit leaves when its process dies before the content moves on: a retry continues it.
  define('an append writer continues committed content', async (driver, base) => {
    const pattern = new Pattern(9);
    for (const [name, size] of [['small', 3000], ['large', 6 * MiB + 5]] as const) {
      const path = `${base}/${name}/data`;
      await putPattern(driver, path, pattern, size);
      await writeSession(driver, path, pattern, size, size, { append: true, commit: true });
      await assertContent(driver, path, pattern, size);
      await writeSession(driver, path, pattern, size, size + 1000, { append: true });
      assert.equal((await driver.stat(path)).size, size + 1000, 'stat sees the appended bytes');
      await writeSession(driver, path, pattern, size + 1000, size + 6 * MiB, { append: true, commit: true });
      await assertContent(driver, path, pattern, size + 6 * MiB);
    }
    await driver.delete(base);
  });

  define('cancel discards this and earlier uncommitted sessions', async (driver, base) => {
    const path = `${base}/upload/data`;
    const pattern = new Pattern(6);
    await writeSession(driver, path, pattern, 0, 5000, { append: false });
    const writer = await driver.writer(path, { append: true });
    await write(writer, Buffer.alloc(100));
    await writer.cancel();
    await assert.rejects(driver.stat(path), PathNotFoundError);
    await assert.rejects(driver.getContent(path), PathNotFoundError);
    await assert.rejects(writer.commit(), 'commit after cancel fails');
    const fresh = await driver.writer(path, { append: true });
    assert.equal(fresh.size, 0, 'an append writer after cancel starts empty');
    await fresh.cancel();
    await assert.rejects(driver.stat(path), PathNotFoundError);
    await driver.delete(base).catch((err: unknown) => assert.ok(err instanceof PathNotFoundError));
  });

  define('abort via AbortSignal stops a writer', async (driver, base) => {
    const path = `${base}/data`;
    const controller = new AbortController();
    const writer = await driver.writer(path, { append: false, signal: controller.signal });
    const pattern = new Pattern(7);
    let sent = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (const chunk of pattern.chunks(0, 64 * MiB, 256 * 1024)) {
        if (sent >= 2 * MiB) controller.abort();
        sent += chunk.length;
        yield chunk;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await assert.rejects(pipeline(source(), writer), { name: 'AbortError' });
    assert.ok(sent < 64 * MiB, 'the source stopped early');
    assert.ok(writer.destroyed);
    await assert.rejects(writer.commit(), 'an aborted writer cannot commit');
    const resumed = await driver.writer(path, { append: true });
    assert.equal(resumed.size, (await driver.stat(path)).size, 'what was written stays for an append writer');
    assert.ok(resumed.size <= sent);
    await resumed.cancel();
    await assert.rejects(driver.writer(path, { append: false, signal: AbortSignal.abort() }), { name: 'AbortError' });
    await driver.delete(base).catch((err: unknown) => assert.ok(err instanceof PathNotFoundError));
  });

  define('abort via AbortSignal stops a reader', async (driver, base) => {
    const path = `${base}/data`;
    const pattern = new Pattern(8);
    await putPattern(driver, path, pattern, 16 * MiB);
    const controller = new AbortController();
    const reader = await driver.reader(path, { signal: controller.signal });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of reader) {
          received += (chunk as Buffer).length;
          controller.abort();
        }
      })(),
      { name: 'AbortError' },
    );
    assert.ok(received < 16 * MiB, `read ${received} bytes after abort`);
    await assert.rejects(driver.reader(path, { signal: AbortSignal.abort() }).then(readAll), { name: 'AbortError' });
    const whole = await hashStream(await driver.reader(path, { signal: new AbortController().signal }));
    assert.equal(whole.sha256, pattern.sha256(0, 16 * MiB), 'an unused signal changes nothing');
    await driver.delete(base);
  });
}
