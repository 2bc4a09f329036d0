import { Readable } from 'node:stream';

/** Writers copy into blocks of this size, so that many tiny writes do not make many tiny Buffers. */
const BLOCK = 1 << 20;
/** Largest chunk a reader pushes: big enough for throughput, small enough for flat memory. */
const READ_CHUNK = 1 << 20;

/**
 * Append-only bytes stored as a list of blocks. Once sealed, a list never changes, so readers and
 * forks can share its blocks without copying.
 */
export class ChunkList {
  private blocks: Buffer[] = [];
  private tail: Buffer | null = null;
  private tailUsed = 0;
  private sealed = false;
  size = 0;

  static of(data: Uint8Array): ChunkList {
    const list = new ChunkList();
    if (data.byteLength > 0) list.blocks.push(Buffer.from(data));
    list.size = data.byteLength;
    list.sealed = true;
    return list;
  }

  append(data: Uint8Array): void {
    if (this.sealed) throw new Error('append to a sealed chunk list');
    let done = 0;
    while (done < data.byteLength) {
      if (this.tail === null || this.tailUsed === this.tail.length) {
        this.flushTail();
        this.tail = Buffer.allocUnsafe(BLOCK);
      }
      const n = Math.min(this.tail.length - this.tailUsed, data.byteLength - done);
      this.tail.set(data.subarray(done, done + n), this.tailUsed);
      this.tailUsed += n;
      done += n;
    }
    this.size += data.byteLength;
  }

  /** Freezes the list; a mostly empty tail block is copied so it does not pin a whole block. */
  seal(): void {
    this.flushTail();
    this.sealed = true;
  }

  /** A new, growable list that starts with this list's bytes (this list gets sealed). */
  fork(): ChunkList {
    this.seal();
    const copy = new ChunkList();
    copy.blocks = this.blocks.slice();
    copy.size = this.size;
    return copy;
  }

  toBuffer(): Buffer {
    this.seal();
    return Buffer.concat(this.blocks, this.size);
  }

  /** Streams bytes [start, end) of a sealed list, in views of its blocks (no copies). */
  reader(start: number, end: number, signal?: AbortSignal): Readable {
    this.seal();
    const blocks = this.blocks;
    let index = 0;
    let skip = start;
    while (index < blocks.length && skip >= blocks[index].length) skip -= blocks[index++].length;
    let remaining = end - start;
    return new Readable({
      signal,
      read() {
        while (remaining > 0 && index < blocks.length) {
          const block = blocks[index];
          const n = Math.min(block.length - skip, remaining, READ_CHUNK);
          const piece = block.subarray(skip, skip + n);
          skip += n;
          remaining -= n;
          if (skip === block.length) {
            index++;
            skip = 0;
          }
          if (!this.push(piece)) return;
        }
        this.push(null);
      },
    });
  }

  private flushTail(): void {
    if (this.tail === null) return;
    if (this.tailUsed > 0) {
      const used = this.tail.subarray(0, this.tailUsed);
      this.blocks.push(this.tailUsed < this.tail.length / 2 ? Buffer.from(used) : used);
    }
    this.tail = null;
    this.tailUsed = 0;
  }
}
