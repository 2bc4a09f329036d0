/**
 * Equal-sized buffers handed out and taken back. A pull that allocates a fresh 1 MiB buffer per read
 * pays for it three times: the kernel faults in and zeroes its pages, the GC has to find it, and a
 * process with a large heap marks that heap more often. Reused buffers cost none of that.
 *
 * The pool only ever keeps `keep` idle buffers; the rest are left to the GC, so a burst of
 * concurrent pulls does not pin its peak memory for the life of the process.
 */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`invalid buffer size ${size}`);
  }

  /** A buffer of `size` bytes with unspecified content; give it back once nothing refers to it. */
  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /**
   * The caller must hold no view of `buf` any more, and nothing else may still read it (a socket
   * write counts until its callback has run): the next take() overwrites it.
   */
  give(buf: Buffer): void {
    if (this.idle.length < this.keep && buf.length === this.size) this.idle.push(buf);
  }

  /** Idle buffers held (for tests and diagnostics). */
  get idleCount(): number {
    return this.idle.length;
  }
}
