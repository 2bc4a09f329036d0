import type { StorageDriver } from '../../../storage-drivers/types';
import type { Digest } from '../../oci/digest';
import { historyOfLayers } from '../history-map';
import { mergeLayers, type LayerInput } from '../image-merge';
import { imageSecrets } from '../image-secrets';
import { InsightError } from '../insight-error';
import type { LayerEntry } from '../layer-entry';
import { storedEntries, type LayerRecord } from '../layer-records';
import type { RepositorySecretPolicy } from '../secret-policy';
import type { ConfigRead } from './image-config';
import type { ReportDescriptor } from './image-manifest';
import type { ImageAnalysis, LayerOutcome, LayerReport } from './report-types';

/** How many hidden contents a report names. */
export const TOP_OFFENDERS = 20;

/** Every finding, none allowed: the cache keeps them all, each ask applies its repository's policy. */
const REPORT_ALL: RepositorySecretPolicy = { mode: 'warn', allows: () => false };

/** A layer with its record, or `not-stored` for a foreign layer the registry does not hold. */
export interface ResolvedLayer {
  descriptor: ReportDescriptor;
  record: LayerRecord | 'not-stored';
}

async function* none(): AsyncGenerator<LayerEntry> {}

/** The stored entries of a layer, a damaged list naming the layer (the error reaches the client). */
export async function* layerEntries(driver: StorageDriver, digest: Digest, index: number): AsyncGenerator<LayerEntry> {
  try {
    yield* storedEntries(driver, digest);
  } catch (err) {
    if (!(err instanceof InsightError)) throw err;
    throw new InsightError(err.kind, `the stored analysis of layer ${index} (${digest.value}) is damaged: ${err.message}`, { cause: err });
  }
}

/**
 * Merges an image whose layers all have a record: the file lists of analysed layers in order; a
 * layer that failed, is not a layer or is not stored goes in empty (so indices and history still
 * line up) and is named in `skippedLayers`. Streams one file list at a time.
 */
export async function analyseImage(driver: StorageDriver, manifest: Digest, config: { descriptor: ReportDescriptor; read: ConfigRead }, layers: ResolvedLayer[]): Promise<ImageAnalysis> {
  const outcome = (l: ResolvedLayer): LayerOutcome => (l.record === 'not-stored' ? 'not-stored' : l.record.outcome);
  const inputs: LayerInput[] = layers.map((l, index) => ({
    digest: l.descriptor.digest.value,
    entries: outcome(l) === 'analysed' ? layerEntries(driver, l.descriptor.digest, index) : none(),
  }));
  const history = config.read.config?.history;
  const merged = await mergeLayers(inputs, { history, top: TOP_OFFENDERS });
  const createdBy = historyOfLayers(history, layers.length);
  const skippedLayers: number[] = [];
  const notes: string[] = [];
  const reports = layers.map((l, index): LayerReport => {
    const record = l.record === 'not-stored' ? undefined : l.record;
    const report: LayerReport = {
      index,
      digest: l.descriptor.digest.value,
      mediaType: l.descriptor.mediaType,
      compressedSize: l.descriptor.size,
      outcome: outcome(l),
      shippedBytes: merged.layers[index].shippedBytes,
      hiddenBytes: merged.layers[index].hiddenBytes,
    };
    const instruction = createdBy[index]?.created_by;
    if (instruction !== undefined) report.createdBy = instruction;
    if (record?.outcome === 'analysed') {
      report.uncompressedSize = record.uncompressedSize;
      report.files = record.fileCount;
      report.entries = record.entryCount;
      if (record.contentDigest !== undefined) report.contentDigest = record.contentDigest;
    } else {
      skippedLayers.push(index);
      notes.push(skipNote(report, record));
    }
    if (record?.error) report.error = record.error;
    if (record?.findingsTruncated) report.findingsTruncated = true;
    return report;
  });
  const records = layers.map((l) => ({ digest: l.descriptor.digest.value, record: l.record === 'not-stored' ? null : l.record }));
  if ('error' in config.read) notes.push(`config not read (${config.read.error}): no history, no search of its Env`);
  return {
    version: 1,
    manifest: manifest.value,
    config: { digest: config.descriptor.digest.value, size: config.descriptor.size, ...('error' in config.read ? { error: config.read.error } : {}) },
    totals: {
      layers: layers.length,
      compressedBytes: sum(reports.map((r) => r.compressedSize)),
      uncompressedBytes: sum(reports.map((r) => r.uncompressedSize ?? 0)),
      files: sum(reports.map((r) => r.files ?? 0)),
    },
    efficiency: merged.efficiency,
    shippedBytes: merged.shippedBytes,
    reachableBytes: merged.reachableBytes,
    wastedBytes: merged.hiddenBytes,
    layers: reports,
    offenders: merged.hidden,
    skippedLayers,
    notes,
    findings: imageSecrets(records, config.read.config, REPORT_ALL),
    analysedAt: new Date().toISOString(),
  };
}

function skipNote(layer: LayerReport, record: LayerRecord | undefined): string {
  const which = `layer ${layer.index} (${layer.digest})`;
  const why =
    layer.outcome === 'not-stored'
      ? 'is a foreign layer the registry does not store'
      : layer.outcome === 'not-a-layer'
        ? 'is not a tar layer'
        : `could not be read (${record?.error?.kind ?? 'failed'}: ${record?.error?.message ?? 'no reason recorded'})`;
  return `${which} ${why}: the merge leaves it out, so the figures do not count its files nor what it would hide`;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
