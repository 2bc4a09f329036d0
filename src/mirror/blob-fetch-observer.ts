import type { Digest } from '../oci/digest';

/**
 * What the blob fetcher reports, for metrics (prom-client wiring comes with the routes). Every
 * fetch that starts (an upstream request) ends with exactly one of fetchCompleted or fetchFailed.
 */
export interface BlobFetchObserver {
  fetchStarted?(repository: string, digest: Digest): void;
  /** `bytes`: how many came from the upstream (0 when the blob turned out to be stored meanwhile). */
  fetchCompleted?(repository: string, digest: Digest, bytes: number): void;
  fetchFailed?(repository: string, digest: Digest, err: Error): void;
  /** Bytes received from the upstream, as they arrive. */
  upstreamBytes?(n: number): void;
  /**
   * Bytes handed to callers from a fetch in flight. Cache hits are reported by `cacheHit` alone: their
   * stream is the storage driver's own, which the route counts as it sends it.
   */
  servedBytes?(n: number): void;
  cacheHit?(repository: string, digest: Digest, size: number): void;
}
