import type { BlobFetchObserver } from '../mirror/blob-fetch-observer';
import type { MirrorObserver } from '../mirror/mirror-observer';
import type { Metrics } from './metrics';

/** The label of a mirror: its prefix, `proxy` for Distribution's (whose prefix is empty). */
const label = (prefix: string) => (prefix === '' ? 'proxy' : prefix);

/** The mirror's reports (routes and blob fetcher) as metrics. */
export function mirrorMetrics(metrics: Metrics): { observer: MirrorObserver; blobObserver: BlobFetchObserver } {
  return {
    observer: {
      served: (mirror, kind, result) => metrics.mirrorRequests.inc({ mirror: label(mirror), kind, result }),
      upstreamError: (mirror, kind) => metrics.mirrorUpstreamErrors.inc({ mirror: label(mirror), kind }),
      servedBytes: (mirror, n) => metrics.mirrorServedBytes.inc({ mirror: label(mirror) }, n),
    },
    blobObserver: {
      upstreamBytes: (n) => metrics.mirrorUpstreamBytes.inc(n),
      fetchCompleted: () => metrics.mirrorFetches.inc({ result: 'completed' }),
      fetchFailed: () => metrics.mirrorFetches.inc({ result: 'failed' }),
    },
  };
}
