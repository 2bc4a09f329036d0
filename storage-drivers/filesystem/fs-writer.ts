import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { FileWriter } from '../types';
import { endAndFinish } from '../streams';
import type { PendingFlushes } from './pending-flushes';
import { naming } from './errno';

type State = 'open' | 'committed' | 'cancelled';

/**
 * Socket chunks queue up to this much while a write is in flight and then go out in one writev,
 * so the body keeps arriving while the disk is busy (the default 16 KiB would stall it per chunk).
 */
const HIGH_WATER_MARK = 1 << 20;

/**
 * Bytes after which a datasync starts in the background: the disk then writes while the rest of the
 * body arrives, instead of all of a large blob at commit (about 0.6 s for 512 MiB here, with the
 * client waiting).
 */
const FLUSH_EVERY = 16 << 20;

/** Below this, a writer ended without commit leaves its bytes to the commit's flush. */
const HAND_OVER_MIN = 1 << 20;

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
  private unflushed = 0;
  /** The background datasync in flight, if any; it never rejects (see flushed). */
  private flushing: Promise<void> | null = null;
  /** A failed background datasync may have lost data: it fails the writer, later syncs could not tell. */
  private flushError: Error | null = null;

  constructor(
    private readonly file: string,
    handle: FileHandle,
    initialSize: number,
    private readonly flushes: PendingFlushes,
    signal?: AbortSignal,
  ) {
    super({ signal, highWaterMark: HIGH_WATER_MARK });
    this.handle = handle;
    this.written = initialSize;
  }

  get size(): number {
    return this.written;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => callback(), (err: Error) => callback(naming(err, this.file)));
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), (err: Error) => callback(naming(err, this.file)));
  }

  override _final(callback: (error?: Error | null) => void): void {
    const sync = async (): Promise<void> => {
      await this.flushed();
      if (this.syncOnFinal && this.handle) {
        await this.handle.datasync();
        this.synced = true;
      } else if (this.handle && this.unflushed >= HAND_OVER_MIN) {
        this.flushes.start(this.file, this.handle);
        this.handle = null;
        return;
      }
      await this.closeHandle();
    };
    sync().then(() => callback(), (err: Error) => callback(naming(err, this.file)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const close = async (): Promise<void> => {
      await this.flushing;
      await this.closeHandle();
    };
    close().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }

  async commit(): Promise<void> {
    if (this.state !== 'open') throw new Error(`commit after ${this.state}`);
    try {
      await this.flushAndClose();
    } catch (err) {
      throw naming(err, this.file);
    }
    this.state = 'committed';
  }

  private async flushAndClose(): Promise<void> {
    if (!this.writableEnded) this.syncOnFinal = true;
    await endAndFinish(this);
    await this.flushes.settle(this.file);
    if (!this.synced) {
      // The handle closed when the stream finished; fsync through a new one flushes the same inode.
      const handle = await open(this.file, 'r');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
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
    await this.flushes.forget(this.file);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    const handle = this.handle;
    if (handle === null) throw new Error('writer is closed');
    const total = buffers.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await handle.writev(buffers);
    this.written += bytesWritten;
    this.unflushed += bytesWritten;
    if (this.unflushed >= FLUSH_EVERY && this.flushing === null) this.flushInBackground(handle);
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

  private flushInBackground(handle: FileHandle): void {
    this.unflushed = 0;
    this.flushing = handle.datasync().then(
      () => {
        this.flushing = null;
      },
      (err: Error) => {
        this.flushing = null;
        this.flushError ??= err;
      },
    );
  }

  /** Waits for the background datasync; rejects if one failed. */
  private async flushed(): Promise<void> {
    await this.flushing;
    if (this.flushError) throw this.flushError;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle !== null) await handle.close();
  }
}
