import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pipeline, type Readable, type Transform } from 'node:stream';
import type { FileWriter, StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import type { Digest } from '../oci/digest';
import { deleteIfExists, fileSize } from '../oci/links';
import { paths } from '../oci/paths';
import { encodeEntry, fileListWriter } from './file-list-codec';
import { InsightError } from './insight-error';
import { MAX_RECORDED_FINDINGS, writeLayerRecord, type LayerFormat, type LayerRecord } from './layer-records';
import { zstdAvailable } from './layer-media-types';
import { scanLayer } from './scan-layer';
import type { SecretFinding } from './secret-finding';
import { FORMAT_MEDIA_TYPE, peekHead, sniffFormat } from './sniff-format';

export interface AnalyseOptions {
  secretHeadBytes: number;
  signal?: AbortSignal;
  /** Throws once this process may no longer write the job's results (its claim was lost). */
  assertHeld(): void;
  /** A stage the blob's bytes pass through before the scan: the pacing that yields to requests. */
  pace?: () => Transform;
}

/** The record written, or `gone` when the blob was deleted (garbage collection) before it was. */
export type AnalysisResult = { kind: 'recorded'; record: LayerRecord } | { kind: 'gone' };

type Outcome = Omit<LayerRecord, 'version' | 'digest' | 'analysedAt' | 'durationMs'>;

/**
 * Analyses the blob stored under `d` (a canonical, sha256 digest) and writes its record, last:
 * one read of the blob (the sniff shares it), the file list streamed to storage as the scan goes,
 * then the record, durable. A crash before the record leaves a partial list and no record, which a
 * new run overwrites. Bad bytes make a `failed` record; a storage fault (reading the blob, writing
 * the list) rejects as it is, leaving no record, for the caller to retry.
 */
export async function analyseBlob(driver: StorageDriver, d: Digest, opts: AnalyseOptions): Promise<AnalysisResult> {
  const started = performance.now();
  let source: Readable & { fileSize?: number };
  try {
    source = await driver.reader(paths.blobData(d), { signal: opts.signal });
  } catch (err) {
    if (isNotFound(err)) return { kind: 'gone' };
    throw err;
  }
  // scanLayer reports any failure of its pipeline as bad bytes; one of the blob's own read is storage's.
  let readFailure: Error | undefined;
  source.on('error', (err) => (readFailure ??= err));
  let outcome: Outcome;
  try {
    const size = source.fileSize ?? (await fileSize(driver, paths.blobData(d)));
    if (size === null) return { kind: 'gone' };
    const { head, whole } = await peekHead(source);
    const format = sniffFormat(head);
    if (format === 'not-a-layer') {
      whole.destroy();
      outcome = { outcome: 'not-a-layer', compressedSize: size, findings: [] };
    } else outcome = await scan(driver, d, whole, format, size, opts, () => readFailure);
  } finally {
    source.destroy();
  }
  if (readFailure !== undefined) throw readFailure;
  opts.assertHeld();
  // GC deletes the blob's insight directory with its data: a record written after that would
  // outlive the blob. The window between this look and the write is left (architecture.md).
  if ((await fileSize(driver, paths.blobData(d))) === null) {
    await deleteIfExists(driver, paths.insightLayerDir(d));
    return { kind: 'gone' };
  }
  const record: LayerRecord = {
    version: 1,
    digest: d.value,
    ...outcome,
    analysedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
  };
  await writeLayerRecord(driver, d, record);
  return { kind: 'recorded', record };
}

async function scan(
  driver: StorageDriver,
  d: Digest,
  blob: Readable,
  format: LayerFormat,
  size: number,
  opts: AnalyseOptions,
  readFailure: () => unknown,
): Promise<Outcome> {
  if (format === 'zstd' && !zstdAvailable())
    return { outcome: 'failed', format, compressedSize: size, findings: [], error: { kind: 'compression-unavailable', message: `zstd layers need Node.js 22.15 or later (this is ${process.version})` } };
  let writer: FileWriter | undefined;
  const findings: SecretFinding[] = [];
  let findingsTruncated = false;
  try {
    writer = await driver.writer(paths.insightFileList(d), { append: false, signal: opts.signal });
    const list = fileListWriter(writer);
    // The identity of the files, without times: a layer rebuilt with the same files has the same.
    const contents = createHash('sha256');
    // pipeline, not pipe: a failed read must fail the scan (and a failed scan stop the read).
    const source = opts.pace ? pipeline(blob, opts.pace(), () => {}) : blob;
    const summary = await scanLayer(source, {
      mediaType: FORMAT_MEDIA_TYPE[format],
      secretHeadBytes: opts.secretHeadBytes,
      onEntry: (entry) => {
        opts.assertHeld();
        contents.update(`${encodeEntry(entry)}\n`);
        return list.write(entry);
      },
      onFinding: (finding) => {
        if (findings.length < MAX_RECORDED_FINDINGS) findings.push(finding);
        else findingsTruncated = true;
      },
    });
    await list.end();
    opts.assertHeld();
    await writer.commit();
    const { compressedSize, uncompressedSize, fileCount, entryCount } = summary;
    const contentDigest = `sha256:${contents.digest('hex')}`;
    return { outcome: 'analysed', format, compressedSize, uncompressedSize, fileCount, entryCount, contentDigest, findings, ...(findingsTruncated ? { findingsTruncated } : {}) };
  } catch (err) {
    blob.destroy();
    await writer?.cancel().catch(() => undefined);
    if (!(err instanceof InsightError) || readFailure() !== undefined) throw err;
    // Bad bytes are the layer's outcome, for good: no list, and the reason in the record.
    return { outcome: 'failed', format, compressedSize: size, findings: [], error: { kind: err.kind, message: err.message } };
  }
}
