import { randomUUID } from 'node:crypto';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A local scratch file that one writer appends to while any number of readers read it at their own
 * pace (positional reads on one shared descriptor). Its name is removed as soon as it is opened: the
 * file lives exactly as long as someone holds it, and a crash leaves nothing behind in the
 * directory. Closed when the last holder releases it.
 */
export class Spool {
  private holders = 1;
  /** Bytes appended so far. */
  size = 0;

  private constructor(private readonly handle: FileHandle) {}

  /** A new, empty spool in `directory` (created if missing), held once by the caller. */
  static async create(directory: string): Promise<Spool> {
    await mkdir(directory, { recursive: true });
    const path = join(directory, `berth-spool-${randomUUID()}`);
    const handle = await open(path, 'wx+', 0o600);
    try {
      await unlink(path);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new Spool(handle);
  }

  async append(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += chunk.length;
  }

  /** Appends `chunks` in order with one positional writev where the kernel takes them all. */
  async appendAll(chunks: Uint8Array[]): Promise<void> {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const { bytesWritten } = await this.handle.writev(chunks, this.size);
    this.size += bytesWritten;
    if (bytesWritten < total) await this.append(Buffer.concat(chunks).subarray(bytesWritten));
  }

  /** Fills `buf` from `position`; returns how many bytes were there (fewer only at the end). */
  async read(buf: Buffer, position: number): Promise<number> {
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.handle.read(buf, done, buf.length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  acquire(): void {
    if (this.holders === 0) throw new Error('the spool is closed');
    this.holders++;
  }

  release(): void {
    if (--this.holders === 0) void this.handle.close().catch(() => undefined);
  }
}
