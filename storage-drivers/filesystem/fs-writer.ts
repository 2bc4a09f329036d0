import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { FileWriter } from '../types';
import { endAndFinish } from '../streams';

type State = 'open' | 'committed' | 'cancelled';

/**
 * Appends straight to the file at its final path, so a later writer (in any process sharing the
 * directory) continues where this one stopped. commit() is what makes the bytes durable.
 */
export class FsWriter extends Writable implements FileWriter {
  private state: State = 'open';
  private handle: FileHandle | null;
  private written: number;
  private syncOnFinal = false;
  private synced = false;

  constructor(
    private readonly file: string,
    handle: FileHandle,
    initialSize: number,
    signal?: AbortSignal,
  ) {
    super({ signal });
    this.handle = handle;
    this.written = initialSize;
  }

  get size(): number {
    return this.written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const sync = async (): Promise<void> => {
      if (this.syncOnFinal && this.handle) {
        await this.handle.datasync();
        this.synced = true;
      }
      await this.closeHandle();
    };
    sync().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.closeHandle().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new Error(`commit after ${this.state}`);
    if (!this.writableEnded) this.syncOnFinal = true;
    await endAndFinish(this);
    if (!this.synced) {
      // The handle closed when the stream finished; fsync through a new one flushes the same inode.
      const handle = await open(this.file, 'r');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
    this.state = 'committed';
  }

  async cancel(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'cancelled';
    if (!this.closed) {
      const closed = finished(this).catch(() => undefined);
      this.destroy();
      await closed;
    }
    await rm(this.file, { force: true });
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    const handle = this.handle;
    if (handle === null) throw new Error('writer is closed');
    const total = buffers.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await handle.writev(buffers);
    this.written += bytesWritten;
    if (bytesWritten === total) return;
    // Short writes are rare on regular files (a full disk, a signal); finish the rest in order.
    let skip = bytesWritten;
    for (const buffer of buffers) {
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      let rest = buffer.subarray(skip);
      skip = 0;
      while (rest.length > 0) {
        const { bytesWritten: n } = await handle.write(rest);
        if (n === 0) throw new Error(`no progress writing ${this.file}`);
        this.written += n;
        rest = rest.subarray(n);
      }
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle !== null) await handle.close();
  }
}
