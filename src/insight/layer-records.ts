import type { Readable } from 'node:stream';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import type { Digest } from '../oci/digest';
import { paths } from '../oci/paths';
import type { InsightErrorKind } from './insight-error';
import { InsightError } from './insight-error';
import type { LayerEntry } from './layer-entry';
import { readFileList } from './file-list-codec';
import type { SecretFinding } from './secret-finding';

/** How a layer's bytes were found to be compressed (sniffed, not taken from a manifest). */
export type LayerFormat = 'gzip' | 'zstd' | 'tar';

/** Most findings a record keeps for one layer; `findingsTruncated` says when more were found. */
export const MAX_RECORDED_FINDINGS = 1000;

/**
 * What the analysis of one blob found (docs/architecture.md, "Image insight: analysis in storage").
 * Written once, after the file list: a record's presence means the blob is done, whatever the outcome.
 * - `analysed`: a tar layer; sizes, counts, findings and a file list at `paths.insightFileList`.
 * - `not-a-layer`: neither gzip, zstd nor tar (a config, an artifact): nothing else is known.
 * - `failed`: the bytes start like a layer but do not read as one (`error` says why); no file list.
 */
export interface LayerRecord {
  version: 1;
  digest: string;
  outcome: 'analysed' | 'not-a-layer' | 'failed';
  format?: LayerFormat;
  /** Bytes of the blob as stored. */
  compressedSize: number;
  uncompressedSize?: number;
  fileCount?: number;
  entryCount?: number;
  /**
   * sha256 of the layer's file list entries as encoded (paths, types, sizes, modes, owners, link
   * targets, content digests; never times): equal for a layer rebuilt with the same files.
   */
  contentDigest?: string;
  /** Secrets in the layer's files, in tar order, at most MAX_RECORDED_FINDINGS. */
  findings: SecretFinding[];
  findingsTruncated?: boolean;
  error?: { kind: InsightErrorKind; message: string };
  /** ISO time the analysis finished, and how long it took. */
  analysedAt: string;
  durationMs: number;
}

/** The record of a blob's analysis, or null while there is none (not analysed yet, or never queued). */
export async function readLayerRecord(driver: StorageDriver, digest: Digest): Promise<LayerRecord | null> {
  let bytes: Buffer;
  try {
    bytes = await driver.getContent(paths.insightLayerRecord(digest));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  try {
    const record = JSON.parse(bytes.toString('utf8')) as LayerRecord;
    if (record.version !== 1 || record.digest !== digest.value) throw new Error('not a version 1 record of this digest');
    return record;
  } catch (err) {
    throw new InsightError('file-list-corrupt', `layer record of ${digest.value} unreadable: ${(err as Error).message}`, { cause: err });
  }
}

/** Durable: written after the file list, so a record found always has its list. */
export async function writeLayerRecord(driver: StorageDriver, digest: Digest, record: LayerRecord): Promise<void> {
  await driver.putContent(paths.insightLayerRecord(digest), Buffer.from(JSON.stringify(record)));
}

/**
 * The stored entries of an analysed layer, one at a time. A list that is missing although its record
 * says `analysed` (removed by hand) or damaged rejects with `file-list-corrupt`.
 */
export async function* storedEntries(driver: StorageDriver, digest: Digest): AsyncGenerator<LayerEntry> {
  let source: Readable;
  try {
    source = await driver.reader(paths.insightFileList(digest));
  } catch (err) {
    if (isNotFound(err)) throw new InsightError('file-list-corrupt', `the file list of ${digest.value} is missing`);
    throw err;
  }
  yield* readFileList(source);
}
