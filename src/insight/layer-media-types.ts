import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { InsightError } from './insight-error';

export type Compression = 'none' | 'gzip' | 'zstd';

// Docker's schema 2 names one gzip layer type; the OCI image-spec names each compression, and the
// nondistributable variants (deprecated, still pushed by Windows images) carry the same bytes.
const LAYER_COMPRESSION: Record<string, Compression> = {
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
};

/** The compression of a layer media type; `media-type-unsupported` for anything else. */
export function layerCompression(mediaType: string): Compression {
  const compression = Object.hasOwn(LAYER_COMPRESSION, mediaType) ? LAYER_COMPRESSION[mediaType] : undefined;
  if (compression === undefined)
    throw new InsightError('media-type-unsupported', `not a layer media type Berth can read: "${mediaType}"`);
  return compression;
}

/** Whether this Node.js decompresses zstd (zlib gained it in Node 22.15 and 23.8). */
export function zstdAvailable(): boolean {
  return typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
}

// Each output chunk is a round trip to libuv's pool and a callback here: zlib's 16 KiB default
// made the layer scan 20% slower than 256 KiB (bench/README.md, "Analysis throughput").
const OUTPUT_CHUNK_BYTES = 256 * 1024;

/**
 * A stream that turns the layer's blob bytes into its tar, or undefined for an uncompressed layer.
 * Throws `compression-unavailable` for zstd on a Node.js without it, before any byte is read.
 */
export function decompressorFor(mediaType: string): Transform | undefined {
  const compression = layerCompression(mediaType);
  if (compression === 'none') return undefined;
  if (compression === 'gzip') return zlib.createGunzip({ chunkSize: OUTPUT_CHUNK_BYTES });
  if (!zstdAvailable())
    throw new InsightError(
      'compression-unavailable',
      `zstd layers need Node.js 22.15 or later (this is ${process.version})`,
    );
  return zlib.createZstdDecompress({ chunkSize: OUTPUT_CHUNK_BYTES });
}
