/**
 * Why a layer or a stored file list could not be read. Insight runs off the request path, so these
 * never reach a client as they are: the job that scans a layer records the kind and message as the
 * layer's analysis outcome (and the HTTP layer, when it reports that outcome, maps it there).
 */
export type InsightErrorKind =
  /** A media type that is not a layer Berth can read (a config, a manifest, an unknown blob). */
  | 'media-type-unsupported'
  /** A compression this Node.js cannot decompress (zstd before Node 22.15 / 23.8). */
  | 'compression-unavailable'
  /** The bytes do not decompress, or are not a tar archive, or end before the archive does. */
  | 'layer-corrupt'
  /** A stored file list that does not decode (truncated, or written by an unknown version). */
  | 'file-list-corrupt';

export class InsightError extends Error {
  constructor(
    readonly kind: InsightErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InsightError';
  }
}
