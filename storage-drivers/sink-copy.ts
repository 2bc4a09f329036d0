import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

export function prematureClose(what: string): Error {
  return Object.assign(new Error(what), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * The bookkeeping of a reader's writeTo(sink), which the filesystem and S3 readers share: the
 * writes in flight (each buffer goes back to its pool only once its write's callback ran, and
 * bounding them is the backpressure), the first failure of either side, and a way for the copy loop
 * to sleep until something changes. The reader supplies the loop; this ends the sink once it is done.
 *
 * A source destroyed meanwhile (an abort, a stall, a cut connection) emits 'error' only later, maybe
 * after writeTo returned: it reaches the caller as the rejection, so the listener on it stays.
 */
export class SinkCopy {
  inFlight = 0;
  private failure: Error | null = null;
  private waiting: (() => void) | null = null;

  constructor(
    private readonly source: Readable,
    private readonly sink: Writable,
    /** What a destroyed source with no error of its own fails the copy with. */
    private readonly destroyed: () => Error,
  ) {
    source.on('error', this.fail);
    sink.on('error', this.fail);
    sink.on('close', this.onSinkClose);
  }

  readonly fail = (err: Error): void => {
    this.failure ??= err;
    this.wakeUp();
  };

  private readonly onSinkClose = (): void => this.fail(prematureClose('the sink closed before the end'));

  /** Ends a sleep(): after a write completes, a failure, or the source's destroy. */
  wakeUp(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  sleep(): Promise<void> {
    return new Promise<void>((resolve) => (this.waiting = resolve));
  }

  /** Throws the first failure, or the source's end by destroy. */
  check(): void {
    if (this.failure) throw this.failure;
    if (this.source.destroyed) throw this.source.errored ?? this.destroyed();
  }

  /**
   * Writes `chunk`; `written` runs once the sink is done with it (the chunk's buffer may be reused
   * then), told whether the write failed, before the loop wakes.
   */
  write(chunk: Buffer, written: (failed: boolean) => void): void {
    this.inFlight++;
    this.sink.write(chunk, (err) => {
      this.inFlight--;
      written(!!err);
      if (err) this.fail(err);
      else this.wakeUp();
    });
  }

  /** Once every byte was written: ends the sink and waits until it has flushed. */
  async end(): Promise<void> {
    this.check();
    this.detach();
    this.sink.end();
    await finished(this.sink, { readable: false });
  }

  /** Stops listening to the sink (the source's listener stays: see above). */
  detach(): void {
    this.sink.off('close', this.onSinkClose);
    this.sink.off('error', this.fail);
  }
}
