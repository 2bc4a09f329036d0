import type { Spool } from './spool';

/** Bytes that may wait for the spool before the upstream's stream is paused. */
export const APPEND_QUEUE = 1024 * 1024;

/**
 * Appends an upstream's chunks to a spool with one write in flight at a time, the chunks that arrive
 * meanwhile gathered into the next (one writev). A socket hands out 16–64 KiB at a time, and a
 * thread-pool round trip per chunk, taken in turn, made the spool rather than the network the bound
 * of a cold pull. A failed write is reported by the next `write` or by `flush`.
 */
export class SpoolAppender {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private writing: Promise<void> | null = null;
  private error: Error | null = null;

  constructor(
    private readonly spool: Spool,
    /** Called after each write with the bytes it added, in order. */
    private readonly onWritten: (n: number) => void,
    private readonly limit = APPEND_QUEUE,
  ) {}

  /** Queues `chunk`; waits only while `limit` bytes or more are queued (backpressure on the source). */
  async write(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    this.writing ??= this.drain();
    if (this.queuedBytes >= this.limit) await this.writing;
    // A write that failed while this one waited (TypeScript keeps the narrowing above across the await).
    this.throwIfFailed();
  }

  /** Resolves once every queued chunk is in the spool. */
  async flush(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }

  /** Resolves once no write is in flight, whatever became of it (before the spool may be closed). */
  async settle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length > 0 && !this.error) {
        const batch = this.queued;
        const n = this.queuedBytes;
        this.queued = [];
        this.queuedBytes = 0;
        await this.spool.appendAll(batch);
        this.onWritten(n);
      }
    } catch (err) {
      this.error = err instanceof Error ? err : new Error(String(err));
    } finally {
      this.writing = null;
    }
  }
}
