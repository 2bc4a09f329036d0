import { Readable, type Writable } from 'node:stream';
import type { BufferPool } from '../buffer-pool';
import { prematureClose, SinkCopy } from '../sink-copy';
import type { DirectReadable, FileReadable } from '../types';
import type { RawConnection } from './raw-connection';
import { timeoutError } from './timeouts';

/**
 * Socket reads writeTo() may have in the sink at once; the reading stops while they are all there.
 * It bounds a download's memory at this many pool buffers, besides the connection's own.
 */
export const MAX_IN_FLIGHT = 4;

/**
 * The body of an S3 GET read straight from its connection (see rawRequest): `length` bytes, of which
 * `leftover` came with the head. Read as a stream, each chunk is a fresh copy; writeTo() instead
 * hands the sink the pool buffers the socket read into, and lets the socket read into one again
 * only after the sink's write callback has run for it. Fewer bytes than `length` (the connection
 * closed early) fail it, so a cut download never looks complete.
 *
 * It fails when it wants bytes and none come for `stallMs`; while its consumer holds it back the
 * time does not count (as stallGuard). Destroying it closes the connection unless the body was read
 * to its end; then `release` gets the connection back.
 */
export class ObjectReader extends Readable implements DirectReadable, FileReadable {
  fileSize?: number;
  private received = 0;
  private leftover: Buffer | null;
  private released = false;
  private attached = false;
  private claimed = false;
  /** The connection is stopped because the consumer has enough. */
  private held = true;
  private readonly stall: NodeJS.Timeout;
  /** A writeTo() in progress, woken when the reader is destroyed meanwhile. */
  private copy: SinkCopy | null = null;

  constructor(
    private readonly conn: RawConnection,
    private readonly length: number,
    leftover: Buffer,
    private readonly pool: BufferPool,
    private readonly release: (conn: RawConnection) => void,
    stallMs: number,
    signal?: AbortSignal,
  ) {
    super({ signal, highWaterMark: pool.size });
    this.leftover = leftover.length > 0 ? leftover : null;
    this.stall = setTimeout(() => {
      if (this.held) this.stall.refresh();
      else this.destroy(timeoutError(`storage sent no data for ${stallMs} ms`));
    }, stallMs).unref();
    if (leftover.length > length) {
      this.destroy(new Error(`storage sent ${leftover.length} bytes for a body of ${length}`));
      return;
    }
    this.received = leftover.length;
    if (this.complete) this.finishConnection();
  }

  private get complete(): boolean {
    return this.received === this.length;
  }

  /** Counts `n` more bytes; false (and the reader destroyed) if they run past the length. */
  private count(n: number): boolean {
    this.stall.refresh();
    this.received += n;
    if (this.received <= this.length) return true;
    this.destroy(new Error(`storage sent more than the ${this.length} bytes it announced`));
    return false;
  }

  /** The whole body has arrived: the connection may serve another request. */
  private finishConnection(): void {
    clearTimeout(this.stall);
    this.released = true;
    this.release(this.conn);
  }

  private attach(onBody: (n: number, buf: Buffer) => boolean, nextBuffer: () => Buffer | undefined): void {
    this.attached = true;
    this.conn.attach({
      nextBuffer,
      onClose: (err) => {
        if (!this.complete) this.destroy(err ?? prematureClose(`storage closed the connection after ${this.received} of ${this.length} bytes`));
      },
      onData: (n, buf) => {
        if (this.destroyed || !this.count(n)) return false;
        const more = onBody(n, buf);
        if (this.complete) {
          this.finishConnection();
          return true;
        }
        this.held = !more;
        return more;
      },
    });
  }

  private resumeConnection(): void {
    // The time without bytes counts from when they are wanted again, not from the last that came.
    if (this.held) this.stall.refresh();
    this.held = false;
    this.conn.resume();
  }

  override _read(): void {
    this.claimed = true;
    if (this.leftover) {
      const first = this.leftover;
      this.leftover = null;
      if (!this.push(first)) return;
    }
    if (this.complete) {
      this.push(null);
      return;
    }
    if (!this.attached) {
      this.attach(
        (n, buf) => {
          const more = this.push(Buffer.from(buf.subarray(0, n)));
          if (this.complete) this.push(null);
          return more;
        },
        () => undefined,
      );
    }
    this.resumeConnection();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.stall);
    if (!this.released) {
      this.released = true;
      this.conn.destroy();
    }
    this.copy?.wakeUp();
    cb(err);
  }

  async writeTo(sink: Writable): Promise<void> {
    if (this.claimed || this.readableFlowing !== null) throw new Error('writeTo() on a reader that has already been read');
    this.claimed = true;
    const copy = new SinkCopy(this, sink, () => prematureClose('the reader was destroyed'));
    this.copy = copy;
    const write = (chunk: Buffer, pooled: Buffer | null) =>
      copy.write(chunk, (failed) => {
        if (pooled) this.pool.give(pooled);
        if (!failed && this.held && copy.inFlight < MAX_IN_FLIGHT && !this.complete && !this.destroyed) this.resumeConnection();
      });
    try {
      if (this.leftover) {
        write(this.leftover, null);
        this.leftover = null;
      }
      if (!this.complete && !this.destroyed) {
        this.attach(
          (n, buf) => {
            // The read after the head lands in the connection's own buffer, which it reads into again.
            const pooled = this.conn.ownsBuffer(buf) ? this.pool.take() : buf;
            if (pooled !== buf) buf.copy(pooled, 0, 0, n);
            write(pooled.subarray(0, n), pooled);
            return copy.inFlight < MAX_IN_FLIGHT;
          },
          () => (this.complete ? undefined : this.pool.take()),
        );
        this.resumeConnection();
      }
      while (!(this.complete && copy.inFlight === 0)) {
        copy.check();
        await copy.sleep();
      }
      await copy.end();
    } finally {
      copy.detach();
      this.destroy();
    }
  }
}
