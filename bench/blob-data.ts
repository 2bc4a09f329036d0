import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { MiB } from './stats';

/** A deterministic pseudo-random buffer (xorshift32): cheap, incompressible, reproducible. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, size);
}

/** Resolves on `drain`, rejects if the stream closes or fails first. */
export function drained(sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      sink.off('drain', onDrain);
      sink.off('close', onClose);
      sink.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('stream closed while sending'));
    sink.on('drain', onDrain);
    sink.on('close', onClose);
    sink.on('error', done);
  });
}

const PREFIX = 32;
let sharedBase: Buffer | null = null;

function base(): Buffer {
  sharedBase ??= pseudoRandom(MiB, 0x5eed);
  return sharedBase;
}

/**
 * A blob made of a 32-byte prefix unique to its seed followed by a shared 1 MiB pattern repeated,
 * so that any size can be streamed without holding it in memory and every seed gives a new digest.
 */
export class PatternBlob {
  readonly prefix: Buffer;

  private constructor(
    readonly seed: string,
    readonly size: number,
    readonly digest: string,
  ) {
    this.prefix = PatternBlob.prefixFor(seed);
  }

  private static prefixFor(seed: string): Buffer {
    return createHash('sha256').update(`berth-bench:${seed}`).digest();
  }

  /** Hashes the content once (outside any timed section) to know its digest. */
  static create(seed: string, size: number): PatternBlob {
    if (size < PREFIX) throw new Error(`blob size ${size} is below ${PREFIX} bytes`);
    const hash = createHash('sha256');
    for (const piece of PatternBlob.pieces(PatternBlob.prefixFor(seed), size, 0, size)) hash.update(piece);
    return new PatternBlob(seed, size, `sha256:${hash.digest('hex')}`);
  }

  private static *pieces(prefix: Buffer, size: number, start: number, end: number): Generator<Buffer> {
    const b = base();
    let pos = Math.max(0, start);
    const stop = Math.min(size, end);
    if (pos < PREFIX && pos < stop) {
      const n = Math.min(PREFIX, stop) - pos;
      yield prefix.subarray(pos, pos + n);
      pos += n;
    }
    while (pos < stop) {
      const off = (pos - PREFIX) % b.length;
      const n = Math.min(b.length - off, stop - pos);
      yield b.subarray(off, off + n);
      pos += n;
    }
  }

  /** Bytes [start, end) as views of shared buffers: nothing is copied. */
  slices(start = 0, end = this.size): Generator<Buffer> {
    return PatternBlob.pieces(this.prefix, this.size, start, end);
  }

  /** The whole content in one buffer; for small blobs only. */
  bytes(): Buffer {
    if (this.size > 16 * MiB) throw new Error('bytes() is for small blobs');
    return Buffer.concat([...this.slices()]);
  }

  /** Writes bytes [start, end) to `sink`, honouring backpressure. */
  async writeTo(sink: Writable, start = 0, end = this.size): Promise<void> {
    for (const piece of this.slices(start, end)) {
      if (!sink.write(piece)) await drained(sink);
    }
  }
}

/** Digests are costly for large blobs, so one round hashes each seed once and both registries share it. */
export class BlobCache {
  private readonly blobs = new Map<string, PatternBlob>();

  get(seed: string, size: number): PatternBlob {
    const key = `${seed}:${size}`;
    let blob = this.blobs.get(key);
    if (!blob) {
      blob = PatternBlob.create(seed, size);
      this.blobs.set(key, blob);
    }
    return blob;
  }
}
