import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../../src/oci/digest';

const BLOCK = 256 * 1024;

/** A blob of any size that never sits in memory: `stream()` generates its bytes afresh each time. */
export interface GeneratedBlob {
  digest: Digest;
  size: number;
  stream(): Readable;
}

/** `size` bytes (a multiple of 256 KiB): one random block, stamped with its index each time it is repeated. */
export function generatedBlob(size: number): GeneratedBlob {
  if (size % BLOCK !== 0) throw new Error(`a generated blob's size is a multiple of ${BLOCK} bytes`);
  const block = randomBytes(BLOCK);
  function* chunks(): Generator<Buffer> {
    for (let i = 0; i < size / BLOCK; i++) {
      // A fresh buffer each time: the consumer may keep any chunk.
      const c = Buffer.from(block);
      c.writeUInt32BE(i, 0);
      yield c;
    }
  }
  const hash = createHash('sha256');
  for (const c of chunks()) hash.update(c);
  return { digest: parseDigest(`sha256:${hash.digest('hex')}`), size, stream: () => Readable.from(chunks(), { objectMode: false }) };
}
