import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readlink, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BufferPool } from '../buffer-pool';
import { copyTo } from '../streams';
import { CheckingSink } from '../testsuite/checking-sink';
import { createFilesystemDriver } from '../index';
import type { DirectReadable } from '../types';
import { FileReader } from './fs-reader';

const CHUNK = 64 * 1024;

async function openFds(file: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file) n++;
  }
  return n;
}

describe('filesystem reader', () => {
  let dir: string;
  let file: string;
  const data = randomBytes(5 * CHUNK + 1234);
  const pool = new BufferPool(CHUNK, 4);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-fs-reader-'));
    file = join(dir, 'data');
    await writeFile(file, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const reader = async (start = 0, end = data.length, signal?: AbortSignal) => new FileReader(await open(file, 'r'), start, end, pool, signal);

  it('writeTo sends exactly the range, and never reuses a buffer before its write callback', async () => {
    for (const [start, end] of [
      [0, data.length],
      [1, data.length - 1],
      [CHUNK, 2 * CHUNK],
      [3 * CHUNK - 5, 3 * CHUNK + 5],
    ]) {
      const sink = new CheckingSink();
      await (await reader(start, end)).writeTo(sink);
      assert.ok(sink.bytes().equals(data.subarray(start, end)), `bytes ${start}-${end}`);
      assert.equal(sink.mismatches, 0);
      assert.ok(sink.writableFinished, 'writeTo ends the sink');
    }
    assert.equal(await openFds(file), 0, 'every reader closed its file');
  });

  it('holds at most two chunks in flight, whatever the sink buffers', async () => {
    const sink = new CheckingSink(true);
    const done = (await reader()).writeTo(sink);
    let most = 0;
    while (sink.bytes().length < data.length || sink.pending.length > 0) {
      // The next read goes through the libuv pool: on a loaded machine it may take a while to land.
      const until = Date.now() + 200;
      while (sink.writableLength < 2 * CHUNK && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 2));
      // A reader that overshot would put a third chunk in within a few more turns.
      for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
      most = Math.max(most, sink.writableLength);
      sink.release();
    }
    await done;
    assert.equal(most, 2 * CHUNK, 'one chunk in the sink while the next is read, and no more');
    assert.ok(sink.bytes().equals(data));
    assert.equal(sink.mismatches, 0);
  });

  it('reuses its buffers across readers, up to what the pool keeps', async () => {
    const own = new BufferPool(CHUNK, 2);
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < 3; i++) {
      const sink = new CheckingSink();
      await new FileReader(await open(file, 'r'), 0, data.length, own).writeTo(sink);
      assert.ok(sink.bytes().equals(data));
      for (const store of sink.stores) seen.add(store);
    }
    assert.equal(seen.size, 2, 'three copies went through the same two buffers');
    assert.equal(own.idleCount, 2);
  });

  it('a sink destroyed mid-way rejects writeTo and closes the file', async () => {
    const sink = new CheckingSink(true);
    const done = (await reader()).writeTo(sink);
    while (sink.writableLength < 2 * CHUNK) await new Promise((resolve) => setImmediate(resolve));
    sink.destroy();
    await assert.rejects(done);
    assert.equal(await openFds(file), 0);
  });

  it('an abort mid-way rejects writeTo with AbortError, with no unhandled error event', async () => {
    const controller = new AbortController();
    const sink = new CheckingSink(true);
    const done = (await reader(0, data.length, controller.signal)).writeTo(sink);
    while (sink.writableLength < 2 * CHUNK) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(done, { name: 'AbortError' });
    sink.release();
    assert.ok(sink.bytes().length < data.length);
    assert.equal(await openFds(file), 0);
  });

  it('a file cut short under the reader fails writeTo instead of ending early', async () => {
    const short = join(dir, 'short');
    await writeFile(short, data);
    const r = new FileReader(await open(short, 'r'), 0, data.length, pool);
    await truncate(short, 2 * CHUNK);
    await assert.rejects(r.writeTo(new CheckingSink()), /ended at/);
  });

  it('read as a stream, it gives fresh buffers; writeTo is then refused', async () => {
    const r = await reader(10, 3 * CHUNK);
    const chunks: Buffer[] = [];
    for await (const c of r) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data.subarray(10, 3 * CHUNK)));
    assert.equal(new Set(chunks.map((c) => c.buffer)).size, chunks.length);
    const again = await reader();
    again.resume();
    await assert.rejects(again.writeTo(new CheckingSink()), /already been read/);
    again.destroy();
  });
});

describe('copyTo', () => {
  it('uses writeTo when the driver offers it, pipeline otherwise, with the same bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-copyto-'));
    try {
      const data = randomBytes(3 * CHUNK + 7);
      const fs = createFilesystemDriver({ rootDirectory: dir, readChunkSize: CHUNK });
      await fs.putContent('/a/data', data);
      const direct = await fs.reader('/a/data', { offset: 5 });
      assert.equal(typeof (direct as DirectReadable).writeTo, 'function', 'the filesystem reader is direct');
      let sink = new CheckingSink();
      await copyTo(direct, sink);
      assert.ok(sink.bytes().equals(data.subarray(5)));
      assert.equal(sink.mismatches, 0);

      sink = new CheckingSink();
      await copyTo(Readable.from([data.subarray(0, 10), data.subarray(10)]), sink);
      assert.ok(sink.bytes().equals(data));
      await fs.delete('/a');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed copy destroys the sink and rejects, without an error event on the sink', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-copyto-'));
    try {
      const fs = createFilesystemDriver({ rootDirectory: dir, readChunkSize: CHUNK });
      await fs.putContent('/a/data', randomBytes(4 * CHUNK));
      const controller = new AbortController();
      const sink = new CheckingSink(true);
      let errorEvents = 0;
      sink.on('error', () => errorEvents++);
      const done = copyTo(await fs.reader('/a/data', { signal: controller.signal }), sink);
      while (sink.pending.length < 1) await new Promise((resolve) => setImmediate(resolve));
      controller.abort();
      await assert.rejects(done, { name: 'AbortError' });
      assert.ok(sink.destroyed);
      assert.equal(errorEvents, 0);
      await fs.delete('/a');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
