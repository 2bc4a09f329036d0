import type { FileHandle } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import type { BufferPool } from '../buffer-pool';
import { SinkCopy } from '../sink-copy';
import type { DirectReadable } from '../types';

/**
 * Buffers one writeTo() may hold: one in the socket while the next is read. More did not pull faster
 * here (the copy into the socket is the bound), and each costs a chunk of memory per pull.
 */
const BUFFERS_PER_COPY = 2;

function destroyedError(): Error {
  return Object.assign(new Error('the reader was destroyed'), { code: 'ERR_STREAM_DESTROYED' });
}

/**
 * Bytes [start, end) of an open file. Read as a stream, every chunk is a fresh buffer (the consumer
 * may keep it); writeTo() instead cycles through buffers of `pool`, reusing each one only after the
 * sink's write callback has run for it. Destroying the reader (its end, an abort, a failure)
 * closes the file.
 */
export class FileReader extends Readable implements DirectReadable {
  private position: number;
  private claimed = false;
  /** A writeTo() in progress, woken when the reader is destroyed meanwhile. */
  private copy: SinkCopy | null = null;

  constructor(
    private readonly handle: FileHandle,
    start: number,
    private readonly end: number,
    private readonly pool: BufferPool,
    signal?: AbortSignal,
  ) {
    super({ highWaterMark: pool.size, signal });
    this.position = start;
  }

  override _read(): void {
    this.claimed = true;
    const want = Math.min(this.pool.size, this.end - this.position);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafeSlow(want);
    this.handle.read(buf, 0, want, this.position).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        // A file cut short while we read it ends the stream early, as fs.ReadStream does.
        if (bytesRead === 0) return void this.push(null);
        this.position += bytesRead;
        this.push(bytesRead < want ? buf.subarray(0, bytesRead) : buf);
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.copy?.wakeUp();
    // FileHandle.close waits for a read still in flight, so the descriptor cannot be reused under it.
    this.handle.close().then(
      () => cb(err),
      (closeErr: Error) => cb(err ?? closeErr),
    );
  }

  async writeTo(sink: Writable): Promise<void> {
    if (this.claimed || this.readableFlowing !== null) throw new Error('writeTo() on a reader that has already been read');
    this.claimed = true;
    const copy = new SinkCopy(this, sink, destroyedError);
    this.copy = copy;
    try {
      while (this.position < this.end) {
        copy.check();
        if (copy.inFlight >= BUFFERS_PER_COPY) {
          await copy.sleep();
          continue;
        }
        const buf = this.pool.take();
        let bytesRead: number;
        try {
          ({ bytesRead } = await this.handle.read(buf, 0, Math.min(buf.length, this.end - this.position), this.position));
          copy.check();
          if (bytesRead === 0) throw new Error(`file ended at ${this.position}, before ${this.end}`);
        } catch (err) {
          this.pool.give(buf);
          throw err;
        }
        this.position += bytesRead;
        // The buffer is read into again only once the sink is done with it.
        copy.write(bytesRead < buf.length ? buf.subarray(0, bytesRead) : buf, () => this.pool.give(buf));
      }
      await copy.end();
    } finally {
      copy.detach();
      this.destroy();
    }
  }
}
