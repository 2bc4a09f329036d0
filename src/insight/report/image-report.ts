import type { StorageDriver } from '../../../storage-drivers/types';
import { isDomainError } from '../../oci/errors';
import type { BlobStore } from '../../oci/blobs';
import { parseDigest, type Digest } from '../../oci/digest';
import type { ManifestRef, ManifestStore } from '../../oci/manifests';
import { mapBounded } from '../../oci/bounded';
import type { LayerAnalysis } from '../layer-analysis';
import { readLayerRecord } from '../layer-records';
import type { RepositorySecretPolicy } from '../secret-policy';
import { readImageConfig } from './image-config';
import { analyseImage, type ResolvedLayer } from './image-analysis';
import { isForeignLayer, isImageMediaType, manifestShape, type ReportDescriptor } from './image-manifest';
import { readCachedAnalysis, writeCachedAnalysis } from './report-cache';
import { pushReport } from './push-report';
import type { ChildReport, ImageAnalysis, ImageReport, IndexReport, ManifestReport } from './report-types';

/** Storage reads a report makes at once (one per layer record): S3 round trips, bounded. */
const READ_CONCURRENCY = 8;

export interface ReportDeps {
  driver: StorageDriver;
  manifests: ManifestStore;
  blobs: BlobStore;
  analysis: LayerAnalysis;
  /** The repository's secret policy (insight.repositories), applied at each ask. */
  policy: RepositorySecretPolicy;
  /** storage.maintenance.readonly: the merge is not cached (nor anything queued). */
  readOnly: boolean;
  signal?: AbortSignal;
}

/**
 * The report of a manifest of `repository` by tag or digest (MANIFEST_UNKNOWN if it has none): an
 * image's, an index's (a report per child), or `not-an-image`. `childPath` names a child's own
 * report, for the links of an index.
 */
export async function manifestReport(deps: ReportDeps, repository: string, reference: string, ref: ManifestRef, childPath: (digest: string) => string): Promise<ManifestReport> {
  const m = await deps.manifests.get(repository, ref);
  const head = { repository, reference, digest: m.digest.value, mediaType: m.mediaType };
  const shape = manifestShape(m.mediaType, m.bytes);
  if (shape.kind === 'image') {
    const image = await imageReport(deps, repository, head, m.digest, shape.config, shape.layers);
    if (image.status !== 'complete' || ref.tag === undefined) return image;
    const push = await pushReport(deps, repository, ref.tag, image, (d, name, digest) => manifestReport(d, name, digest, { digest: parseDigest(digest) }, childPath));
    return push === undefined ? image : { ...image, push };
  }
  if (shape.kind === 'other') return { ...head, status: 'not-an-image' };
  // Children one after the other: each may merge file lists, which is the costly part.
  const manifests: ChildReport[] = [];
  for (const child of shape.manifests) manifests.push(await childReport(deps, repository, child, childPath(child.digest.value)));
  const status = manifests.some((c) => c.status === 'pending') ? 'pending' : 'complete';
  return { ...head, status, manifests } satisfies IndexReport;
}

async function childReport(deps: ReportDeps, repository: string, child: ReportDescriptor, href: string): Promise<ChildReport> {
  const base: ChildReport = { digest: child.digest.value, mediaType: child.mediaType, href, status: 'not-an-image' };
  if (child.platform) base.platform = child.platform;
  if (!isImageMediaType(child.mediaType)) return base;
  let report: ManifestReport;
  try {
    report = await manifestReport(deps, repository, child.digest.value, { digest: child.digest }, () => href);
  } catch (err) {
    // A child the repository does not hold (pushed elsewhere, or deleted since): the others still count.
    if (isDomainError(err, 'manifest-unknown')) return { ...base, status: 'missing' };
    throw err;
  }
  if (report.status !== 'complete' && report.status !== 'pending') return base;
  return { ...base, status: report.status, report: report as ImageReport };
}

type Head = { repository: string; reference: string; digest: string; mediaType: string };

async function imageReport(deps: ReportDeps, repository: string, head: Head, digest: Digest, config: ReportDescriptor, layers: ReportDescriptor[]): Promise<ImageReport> {
  let analysis = await readCachedAnalysis(deps.driver, digest);
  if (analysis === null) {
    const resolved = await resolveLayers(deps, repository, layers);
    const pending = resolved.flatMap((l, index) => (l.record === null ? [{ index, digest: l.descriptor.digest }] : []));
    if (pending.length > 0) {
      // An image pushed before insight was on, or whose analysis is still queued: queueing is
      // idempotent (a layer queued or analysed already is left alone), so every ask may do it.
      if (!deps.readOnly) await Promise.all(pending.map((p) => deps.analysis.enqueue(p.digest)));
      return { ...head, status: 'pending', pending: pending.map((p) => ({ index: p.index, digest: p.digest.value })), layers: layers.length };
    }
    const read = await readImageConfig(deps.blobs, repository, config.digest, deps.signal);
    analysis = await analyseImage(deps.driver, digest, { descriptor: config, read }, resolved as ResolvedLayer[]);
    if (!deps.readOnly) await writeCachedAnalysis(deps.driver, digest, analysis);
  }
  return complete(head, analysis, deps.policy);
}

/** Each layer's record (null: none yet), or not-stored for a foreign layer the registry lacks. */
async function resolveLayers(deps: ReportDeps, repository: string, layers: ReportDescriptor[]): Promise<Array<{ descriptor: ReportDescriptor; record: ResolvedLayer['record'] | null }>> {
  return mapBounded(layers, READ_CONCURRENCY, async (descriptor) => {
    const record = await readLayerRecord(deps.driver, descriptor.digest);
    if (record !== null || !isForeignLayer(descriptor)) return { descriptor, record };
    return { descriptor, record: (await isStored(deps.blobs, repository, descriptor.digest)) ? null : 'not-stored' };
  });
}

async function isStored(blobs: BlobStore, repository: string, digest: Digest): Promise<boolean> {
  try {
    await blobs.stat(repository, digest);
    return true;
  } catch (err) {
    if (isDomainError(err, 'blob-unknown')) return false;
    throw err;
  }
}

function complete(head: Head, analysis: ImageAnalysis, policy: RepositorySecretPolicy): ImageReport {
  const { version: _version, manifest: _manifest, findings, ...figures } = analysis;
  const shown = policy.mode === 'off' ? [] : findings.filter((f) => !policy.allows(f));
  return { ...head, status: 'complete', ...figures, secrets: { mode: policy.mode, findings: shown } };
}
