import { isDomainError } from '../../oci/errors';
import { parseDigest } from '../../oci/digest';
import { comparePushes, type OrderLayer } from '../layer-order';
import { previousTagDigest } from '../tag-history';
import type { ReportDeps } from './image-report';
import type { CompleteImageReport, LayerReport, ManifestReport, PushReport } from './report-types';

type Reporter = (deps: ReportDeps, repository: string, digest: string) => Promise<ManifestReport>;

/**
 * What the push of `tag` that made `current` moved against the image the tag named before, with
 * layer-order advice (layer-order.ts). Undefined when the tag named nothing else that is still
 * held, or named something that is no image (an index: compare its children by digest instead).
 */
export async function pushReport(deps: ReportDeps, repository: string, tag: string, current: CompleteImageReport, report: Reporter): Promise<PushReport | undefined> {
  const previous = await previousTagDigest(deps.driver, repository, tag, parseDigest(current.digest));
  if (previous === null) return undefined;
  let before: ManifestReport;
  try {
    before = await report(deps, repository, previous.value);
  } catch (err) {
    // Its revision deleted since, the index link left behind: no history to compare with.
    if (isDomainError(err, 'manifest-unknown')) return undefined;
    throw err;
  }
  if (before.status === 'pending') return { previous: previous.value, status: 'pending' };
  if (before.status !== 'complete' || !('layers' in before)) return undefined;
  return { previous: previous.value, status: 'complete', ...comparePushes(orderLayers(before.layers), orderLayers(current.layers)) };
}

function orderLayers(layers: LayerReport[]): OrderLayer[] {
  return layers.map((l) => ({ digest: l.digest, size: l.compressedSize, contentDigest: l.contentDigest, createdBy: l.createdBy }));
}
