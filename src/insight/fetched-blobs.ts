import type { BlobFetchObserver } from '../mirror/blob-fetch-observer';
import type { LayerAnalysis } from './layer-analysis';

/**
 * A mirror's fetches queued for analysis as pushes are: a blob fetched from the upstream and stored
 * here is analysed in the background, so a mirrored image's report is ready when asked for rather
 * than pending. A fetch that found the blob stored already (`bytes` 0) was queued when it was.
 */
export function queueFetchedBlobs(observer: BlobFetchObserver | undefined, analysis: Pick<LayerAnalysis, 'enqueue'> | undefined): BlobFetchObserver | undefined {
  if (!analysis) return observer;
  return {
    ...observer,
    fetchCompleted(repository, digest, bytes) {
      observer?.fetchCompleted?.(repository, digest, bytes);
      // A failure to queue is logged by enqueue; asking for the report queues it again.
      if (bytes > 0) analysis.enqueue(digest).catch(() => undefined);
    },
  };
}
