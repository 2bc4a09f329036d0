import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageDriver } from '../types';

const PAGE = 1 << 20;
let block: Buffer | undefined;

/**
 * Deterministic test content of any size without holding it: page k is one shared random MiB rotated
 * by an amount that depends on k and the seed, so lost, repeated or reordered pages change the hash.
 */
export class Pattern {
  constructor(private readonly seed: number) {
    block ??= randomBytes(PAGE);
  }

  /** Bytes [start, end) as views of the shared block, at most `chunkSize` each. */
  *chunks(start: number, end: number, chunkSize = PAGE): Generator<Buffer> {
    const data = block as Buffer;
    let pos = start;
    while (pos < end) {
      const page = Math.floor(pos / PAGE);
      const rotation = (page * 4099 + this.seed * 7919) % PAGE;
      const inPage = (pos % PAGE + rotation) % PAGE;
      const n = Math.min(chunkSize, end - pos, PAGE - (pos % PAGE), PAGE - inPage);
      yield data.subarray(inPage, inPage + n);
      pos += n;
    }
  }

  stream(start: number, end: number, chunkSize = PAGE): Readable {
    return Readable.from(this.chunks(start, end, chunkSize), { objectMode: false });
  }

  bytes(start: number, end: number): Buffer {
    return Buffer.concat([...this.chunks(start, end)]);
  }

  sha256(start: number, end: number): string {
    const hash = createHash('sha256');
    for (const chunk of this.chunks(start, end)) hash.update(chunk);
    return hash.digest('hex');
  }
}

export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One writer session writing pattern bytes [start, end); commits only when asked. */
export async function writeSession(
  driver: StorageDriver,
  path: string,
  pattern: Pattern,
  start: number,
  end: number,
  opts: { append: boolean; chunkSize?: number; commit?: boolean },
): Promise<void> {
  const writer = await driver.writer(path, { append: opts.append });
  assert.equal(writer.size, start, 'writer.size starts at the bytes of earlier sessions');
  await pipeline(pattern.stream(start, end, opts.chunkSize), writer);
  assert.equal(writer.size, end);
  if (opts.commit) await writer.commit();
}

/** A Writable that hashes what it is given (a sink for copyTo: its callbacks free the buffers). */
export class HashSink extends Writable {
  private readonly hash = createHash('sha256');
  private size = 0;

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb();
  }

  result(): { sha256: string; size: number } {
    return { sha256: this.hash.digest('hex'), size: this.size };
  }
}

/** Writes and commits pattern bytes [0, size). */
export async function putPattern(driver: StorageDriver, path: string, pattern: Pattern, size: number): Promise<void> {
  await writeSession(driver, path, pattern, 0, size, { append: false, commit: true });
}

export async function assertContent(driver: StorageDriver, path: string, pattern: Pattern, size: number): Promise<void> {
  assert.equal((await driver.stat(path)).size, size);
  const got = await hashStream(await driver.reader(path));
  assert.equal(got.size, size);
  assert.equal(got.sha256, pattern.sha256(0, size), `content of ${path}`);
}

export async function walkPaths(driver: StorageDriver, path: string): Promise<string[]> {
  const paths: string[] = [];
  for await (const info of driver.walk(path)) paths.push(info.path);
  return paths;
}
