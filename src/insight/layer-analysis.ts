import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { Digest } from '../oci/digest';
import type { InsightConfig } from '../config/insight-schema';
import type { LayerRecord } from './layer-records';
import type { SecretPolicy } from './secret-policy';
import type { PushWatch } from './push-watch';
import type { StorageViews } from './storage-view';
import type { DirIndexes } from './tree/dir-cache';

/**
 * The analysis of pushed blobs, as the rest of Berth sees it (the analyser implements it:
 * src/insight/analyser.ts). Every method is cheap for the caller: the work happens off the request
 * path, in whichever process sharing the store takes the job.
 */
export interface LayerAnalysis {
  /**
   * A blob was pushed (or is wanted): queue it in storage unless it has a record or is queued
   * already. Resolves once the job is queued; never analyses in the caller's turn.
   */
  enqueue(digest: Digest): Promise<void>;
  /**
   * The blob's record, queueing it if it has none and no job; waits up to `timeoutMs` for the
   * analysis (0: only looks). null when it is not done by then, or `signal` aborted.
   */
  awaitRecord(digest: Digest, timeoutMs: number, signal?: AbortSignal): Promise<LayerRecord | null>;
}

/** What the HTTP layer gets of insight (HttpOptions.insight); absent when insight.enabled is false. */
export interface InsightServices {
  analysis: LayerAnalysis;
  /** insight.repositories, compiled. */
  secrets: SecretPolicy;
  config: InsightConfig;
  /** Where pushes accepted with findings or analyses still pending are told of. */
  logger?: Logger;
  /** Tells the findings of images pushed under `warn` once their layers are analysed. */
  pushes?: PushWatch;
  /** Where the registry's bytes go (GET /v2/_berth/insight/storage). */
  storage?: StorageViews;
  /** The store the records, file lists and cached image reports are read from (the registry's own). */
  driver: StorageDriver;
  /** Directory indexes of layers and final filesystems, kept in memory (the `?dir=` listings). */
  dirs: DirIndexes;
}

/**
 * The other workers of a group (src/workers): only slot 0 runs the analysis children, so the others
 * tell it of each blob they queue instead of leaving it to the children's next look at the queue.
 */
export interface InsightPeers {
  /** This process queued the blob with this digest. */
  queued(digest: string): void;
  /** Calls `analyse` when another process of the group queued one. */
  onQueued(analyse: (digest: string) => void): void;
}
