import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createFilesystemDriver } from '../index';
import { PathNotFoundError } from '../errors';
import type { StorageDriver } from '../types';

const MiB = 1 << 20;

/**
 * The write side remembers which directories exist and leaves datasyncs running after a writer
 * ends: both must stay correct when another process changes the tree behind the driver's back.
 */
describe('filesystem driver write paths', () => {
  let dir: string;
  let driver: StorageDriver;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fs-write-'));
    driver = createFilesystemDriver({ rootDirectory: dir });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes again below directories another process removed', async () => {
    await driver.putContent('/repo/tags/a/current/link', Buffer.from('one'));
    await driver.putContent('/repo/tags/b/index/sha256/x/link', Buffer.from('two'));
    await rm(join(dir, 'repo'), { recursive: true });
    await driver.putContent('/repo/tags/a/current/link', Buffer.from('three'));
    await driver.putContent('/repo/tags/b/index/sha256/x/link', Buffer.from('four'));
    assert.equal((await driver.getContent('/repo/tags/a/current/link')).toString(), 'three');
    assert.equal((await driver.getContent('/repo/tags/b/index/sha256/x/link')).toString(), 'four');
  });

  it('moves into directories another process removed, and still needs a source', async () => {
    await driver.putContent('/up/1/data', Buffer.from('first'));
    await driver.move('/up/1/data', '/blobs/ab/abcd/data');
    await rm(join(dir, 'blobs'), { recursive: true });
    await driver.putContent('/up/2/data', Buffer.from('second'));
    await driver.move('/up/2/data', '/blobs/ab/abcd/data');
    assert.equal((await driver.getContent('/blobs/ab/abcd/data')).toString(), 'second');
    await driver.putContent('/blobs/ab/other/keep', Buffer.from('k'));
    await assert.rejects(driver.move('/up/3/data', '/blobs/ab/abce/data'), PathNotFoundError);
  });

  it('deletes a file, an emptied directory and a tree, and reports what is missing', async () => {
    await driver.putContent('/u/s1/startedat', Buffer.from('t'));
    await driver.putContent('/u/s2/a/b', Buffer.from('b'));
    await driver.putContent('/u/s2/c', Buffer.from('c'));
    await driver.delete('/u/s1/startedat');
    await driver.delete('/u/s1');
    await driver.delete('/u/s2');
    assert.deepEqual(await driver.list('/u'), []);
    await assert.rejects(driver.delete('/u/s2'), PathNotFoundError);
    await assert.rejects(driver.delete('/u/nothing/below'), PathNotFoundError);
  });

  it('commits an upload whose earlier chunks are still being flushed', async () => {
    const chunks = [Buffer.alloc(3 * MiB, 1), Buffer.alloc(2 * MiB, 2), Buffer.alloc(MiB + 5, 3)];
    for (const [i, chunk] of chunks.entries()) {
      const writer = await driver.writer('/up/9/data', { append: i > 0 });
      assert.equal(writer.size, chunks.slice(0, i).reduce((n, c) => n + c.length, 0));
      await pipeline(Readable.from([chunk]), writer, { end: i < chunks.length - 1 });
      if (i === chunks.length - 1) await writer.commit();
    }
    assert.deepEqual(await driver.getContent('/up/9/data'), Buffer.concat(chunks));
    await driver.delete('/up/9');
  });
});
