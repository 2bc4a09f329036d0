import type { Config } from '../../config/schema';
import type { LayerRecord } from '../layer-records';

/**
 * What a server process and its analysis child (analysis-child.ts) say over their IPC channel.
 * Digests travel as strings (`sha256:…`).
 */
export type ToChild =
  /**
   * The answer to `hello`: the configuration the child builds its storage driver and analyser
   * from, and the tag its claims carry, by which its server takes one over for a waiting push.
   */
  | { berth: 'insight-setup'; config: Config; claimTag: string }
  /** A job was queued by the server: look at it now rather than at the next poll. */
  | { berth: 'insight-job'; digest: string }
  /** The server took this job over for a waiting push: if analysed here, abort it, release it, say `released`. */
  | { berth: 'insight-yield'; digest: string }
  /** Stop taking jobs, abort those in flight (they stay queued), exit. */
  | { berth: 'insight-stop' };

export type FromChild =
  | { berth: 'insight-hello' }
  /** Set up and analysing; how it runs below the server: SCHED_IDLE, or nice 19 where chrt was not available. */
  | { berth: 'insight-ready'; scheduling: 'idle' | 'nice' | 'normal' }
  /** A record the child wrote (for the server's metrics). */
  | { berth: 'insight-analysed'; record: LayerRecord }
  /** The child finished a job (canonical digest): wake whoever waits for it. */
  | { berth: 'insight-finished'; digest: string }
  /** The child let go of a job it was asked to yield: free to claim now. */
  | { berth: 'insight-released'; digest: string }
  /** Jobs queued in storage, as the child's last look found them. */
  | { berth: 'insight-depth'; n: number };

export function isInsightMessage<T extends { berth: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { berth?: unknown }).berth === 'string' && (m as { berth: string }).berth.startsWith('insight-');
}
