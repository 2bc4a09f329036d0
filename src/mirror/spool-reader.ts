import { Readable } from 'node:stream';
import type { Spool } from './spool';

/** Bytes read from the spool per chunk; a reader buffers about one chunk ahead of its consumer. */
export const SPOOL_CHUNK = 128 * 1024;

/**
 * Where a reader may go now: up to `available` bytes, of which the spool file holds the first
 * `spooled` (the rest are in memory); it ends once `done` and all were read.
 */
export interface SpoolState {
  available: number;
  spooled: number;
  done: boolean;
  error?: Error;
}

export interface SpoolView {
  state(): SpoolState;
  /** Bytes from `position` that are held in memory (at most `max`, short of `limit`), or null. */
  held(position: number, limit: number, max: number): Buffer | null;
  /** Calls `wake` once, the next time the state changes. */
  whenChanged(wake: () => void): void;
}

export interface SpoolReaderOptions {
  /** The blob offset of the first byte to read (a range's start); 0 by default. */
  start?: number;
  signal?: AbortSignal;
  onBytes?: (n: number) => void;
  /** Called once when the reader is destroyed (its end, an error, an abort). */
  onClose?: () => void;
}

/**
 * Tails a spool that is still being written: reads what `view` allows, waits for more, ends or
 * fails when the view says so. Reads only when its consumer asks (backpressure toward that consumer
 * alone; the writer never waits for it). Bytes the view still holds in memory are handed out as
 * they are (slices of chunks nobody changes); others are read from the file into a fresh buffer
 * per chunk, since a consumer may keep any chunk.
 */
export class SpoolReader extends Readable {
  private position: number;
  private reading = false;
  private waiting = false;
  private releasePending = false;

  constructor(
    private readonly spool: Spool,
    private readonly view: SpoolView,
    private readonly opts: SpoolReaderOptions = {},
  ) {
    super({ highWaterMark: SPOOL_CHUNK, signal: opts.signal });
    // A reader that starts further on waits, as any reader, until the view lets it that far.
    this.position = opts.start ?? 0;
    // The fetch may fail before the caller has attached its consumer (or after it stopped
    // listening): that must not be an uncaught 'error'. A consumer attached later still sees the
    // failure, through `errored` (pipeline, finished, async iteration all check it).
    this.on('error', () => undefined);
    spool.acquire();
  }

  override _read(): void {
    this.step();
  }

  private step(): void {
    for (;;) {
      if (this.reading || this.waiting || this.destroyed) return;
      const { available, spooled, done, error } = this.view.state();
      if (error) return void this.destroy(error);
      if (this.position < available) {
        const held = this.view.held(this.position, available, SPOOL_CHUNK);
        if (held) {
          // Moved before the push: a consumer may read again from inside it. Reported after it,
          // with the chunk in this stream's buffer.
          this.position += held.length;
          const more = this.push(held);
          this.opts.onBytes?.(held.length);
          if (more) continue;
          return;
        }
        if (this.position < spooled) return this.readChunk(Math.min(SPOOL_CHUNK, Math.min(available, spooled) - this.position));
      } else if (done) return void this.push(null);
      return this.wait();
    }
  }

  private wait(): void {
    this.waiting = true;
    this.view.whenChanged(() => {
      this.waiting = false;
      this.step();
    });
  }

  private readChunk(n: number): void {
    const buf = Buffer.allocUnsafeSlow(n);
    this.reading = true;
    this.spool.read(buf, this.position).then(
      (got) => {
        this.reading = false;
        if (this.releasePending) return this.release();
        if (this.destroyed) return;
        if (got !== n) return void this.destroy(new Error(`the spool holds fewer bytes than written (${this.position + got} < ${this.position + n})`));
        this.position += n;
        this.push(buf);
        this.opts.onBytes?.(n);
      },
      (err: Error) => {
        this.reading = false;
        if (this.releasePending) return this.release();
        this.destroy(err);
      },
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A read still in flight uses the spool's descriptor: release it once that read is back.
    if (this.reading) this.releasePending = true;
    else this.release();
    this.opts.onClose?.();
    cb(err);
  }

  private release(): void {
    this.releasePending = false;
    this.spool.release();
  }
}
