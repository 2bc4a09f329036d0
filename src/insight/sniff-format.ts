import { Readable } from 'node:stream';
import type { LayerFormat } from './layer-records';

/** Bytes a sniff looks at: one tar header block, which holds every magic checked here. */
export const SNIFF_BYTES = 512;

/** What a blob's first bytes say it is. */
export type SniffedFormat = LayerFormat | 'not-a-layer';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const USTAR_OFFSET = 257;
const CHECKSUM_OFFSET = 148;
const CHECKSUM_LENGTH = 8;

/**
 * The media type scanLayer decompresses a sniffed format by. Blobs are pushed without one (an
 * upload does not know what it carries, and a layer may be listed under different media types by
 * different manifests), so the bytes decide, and the OCI name of that compression stands for it.
 */
export const FORMAT_MEDIA_TYPE: Record<LayerFormat, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  tar: 'application/vnd.oci.image.layer.v1.tar',
};

/**
 * A blob's format from its first bytes (up to SNIFF_BYTES; fewer when the blob is shorter). gzip and
 * zstd by their magic numbers; a tar by the ustar magic or, for pre-POSIX (v7) archives, a header
 * whose checksum holds; a first block of zeros is an empty archive's end. Anything else (a config,
 * an SBOM, an artifact) is not a layer.
 */
export function sniffFormat(head: Buffer): SniffedFormat {
  if (head.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'zstd';
  if (head.length < SNIFF_BYTES) return 'not-a-layer';
  if (head.subarray(USTAR_OFFSET, USTAR_OFFSET + 5).toString('latin1') === 'ustar') return 'tar';
  if (head.every((b) => b === 0)) return 'tar';
  return checksumHolds(head) ? 'tar' : 'not-a-layer';
}

/** The v7 header checksum: the byte sum of the block with its checksum field read as spaces. */
function checksumHolds(block: Buffer): boolean {
  const field = block.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_LENGTH).toString('latin1');
  const match = /^ *([0-7]{1,7})[ \0]/.exec(field);
  if (match === null) return false;
  const expected = parseInt(match[1], 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < SNIFF_BYTES; i++) {
    const b = i >= CHECKSUM_OFFSET && i < CHECKSUM_OFFSET + CHECKSUM_LENGTH ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some old tars summed signed bytes; both are accepted, as GNU tar does.
  return expected === unsigned || expected === signed;
}

/**
 * Reads the first `n` bytes of `source` (fewer if it ends first) and gives back a stream of the
 * whole content, those bytes included: the sniff and the scan share one read of the blob (one
 * request on S3, not two). Destroying the returned stream destroys `source`.
 */
export async function peekHead(source: Readable, n = SNIFF_BYTES): Promise<{ head: Buffer; whole: Readable }> {
  const iterator = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const taken: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < n) {
    const next = await iterator.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    taken.push(next.value);
    length += next.value.length;
  }
  const first = Buffer.concat(taken);
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      if (first.length > 0) yield first;
      if (ended) return;
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
    } finally {
      // Reached on an early stop too (the consumer destroyed the stream): the source goes with it.
      source.destroy();
    }
  }
  return { head: first.subarray(0, n), whole: Readable.from(replay(), { objectMode: false }) };
}
