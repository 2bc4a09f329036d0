import type { UpstreamErrorKind } from './upstream-errors';

/** How a pull of mirrored content was answered. */
export type MirrorResult = 'hit' | 'miss' | 'stale';

/** What the mirror's routes report, for metrics; `mirror` is the prefix ('' for Distribution's proxy). */
export interface MirrorObserver {
  served?(mirror: string, kind: 'manifest' | 'blob', result: MirrorResult): void;
  upstreamError?(mirror: string, kind: UpstreamErrorKind): void;
  /** Blob bytes sent to clients of mirrored repositories, from the cache or tailing a fetch. */
  servedBytes?(mirror: string, n: number): void;
}
