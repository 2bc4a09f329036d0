/**
 * Bytes of a fetch's newest chunks kept in memory: readers that keep up with the fetch (the storage
 * write, clients as fast as the upstream) take them from here instead of reading the spool back,
 * which cost a copy and a thread-pool round trip per chunk per reader, the largest share of a cold
 * pull's CPU. The memory is the flight's, shared by all its readers, and bounded: chunks older than
 * the newest `keep` bytes are dropped once the spool holds them, and a reader that fell that far
 * behind reads the spool.
 */
export class RecentChunks {
  private chunks: Buffer[] = [];
  /** Offset in the blob of each chunk's first byte. */
  private starts: number[] = [];
  /** Bytes added so far: the offset just past the newest chunk. */
  end = 0;

  constructor(private readonly keep: number) {}

  /** Offset of the oldest byte still held (`end` when none is). */
  get start(): number {
    return this.starts[0] ?? this.end;
  }

  /** Appends the next chunk; it must not change afterwards (readers hand out slices of it). */
  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.starts.push(this.end);
    this.end += chunk.length;
  }

  /** Drops the oldest chunks beyond the newest `keep` bytes, those that the spool holds up to `spooled`. */
  trim(spooled: number): void {
    while (this.chunks.length > 1) {
      const chunkEnd = this.starts[0] + this.chunks[0].length;
      if (chunkEnd > spooled || this.end - chunkEnd < this.keep) return;
      this.chunks.shift();
      this.starts.shift();
    }
  }

  /** The held bytes from `position` within one chunk, at most `max` and short of `limit`; null when not held. */
  slice(position: number, limit: number, max: number): Buffer | null {
    if (position < this.start || position >= Math.min(limit, this.end)) return null;
    // The last chunk whose start is at or before `position`.
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= position) lo = mid;
      else hi = mid - 1;
    }
    const from = position - this.starts[lo];
    const upTo = Math.min(this.chunks[lo].length, from + max, limit - this.starts[lo]);
    return this.chunks[lo].subarray(from, upTo);
  }

  /** Lets go of every chunk (the flight is over and nobody reads it any more). */
  clear(): void {
    this.chunks = [];
    this.starts = [];
  }
}
