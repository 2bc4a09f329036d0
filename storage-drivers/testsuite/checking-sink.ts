import { Writable } from 'node:stream';

/**
 * A sink that checks, when it calls back for a chunk, that the chunk still holds the bytes it held
 * when written: a reader that reused a buffer too early would fail that check. Callbacks run when
 * `release` says so (default: on the next turn of the event loop).
 */
export class CheckingSink extends Writable {
  readonly received: Buffer[] = [];
  /** The backing store of every chunk written, to count how many distinct buffers a reader used. */
  readonly stores = new Set<ArrayBufferLike>();
  pending: Array<() => void> = [];
  mismatches = 0;

  constructor(private readonly hold = false) {
    super({ highWaterMark: 1 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const copy = Buffer.from(chunk);
    this.received.push(copy);
    this.stores.add(chunk.buffer);
    const done = () => {
      if (!chunk.equals(copy)) this.mismatches++;
      cb();
    };
    if (this.hold) this.pending.push(done);
    else setImmediate(done);
  }

  release(): void {
    const p = this.pending;
    this.pending = [];
    for (const f of p) f();
  }

  bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}
