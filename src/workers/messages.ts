import type { Config } from '../config/schema';
import type { Forget } from '../oci/read-cache';

/**
 * What a group's primary and its workers say over the cluster IPC channel. Every message carries
 * `berth`, so that prom-client's own messages (metrics scrapes) pass by untouched.
 */
export type ToWorker =
  /** The answer to `hello`: what the worker serves with. `secret` (base64): the group's upload secret. */
  | { berth: 'setup'; config: Config; slot: number; secret?: string; instance: string }
  /** Another worker's write: drop these entries, then answer `forgot`. */
  | { berth: 'forget'; id: number; entries: Forget[] }
  /** Every other worker has dropped what this worker's `forget` named. */
  | { berth: 'forgot'; id: number }
  /** To slot 0, the deliverer: another worker wrote events; look now rather than at the next poll. */
  | { berth: 'events' }
  /** To slot 0, which runs the analysis children: another worker queued this blob for analysis. */
  | { berth: 'analysis-queued'; digest: string }
  /** Every worker of the group listens (sent to each, and to one restarted later): it may call itself ready. */
  | { berth: 'started' }
  /** The answer to `lock`: the key is this worker's (until its `unlock`), or was not free in time. */
  | { berth: 'locked'; id: number; granted: boolean; waited: boolean }
  | { berth: 'drain' };

export type ToPrimary =
  | { berth: 'hello' }
  | { berth: 'listening'; address: string; tls: boolean; storage: string }
  | { berth: 'forget'; id: number; entries: Forget[] }
  | { berth: 'forgot'; id: number }
  /** This worker wrote an event segment (relayed to slot 0). */
  | { berth: 'events' }
  /** This worker queued a blob for analysis (relayed to slot 0). */
  | { berth: 'analysis-queued'; digest: string }
  /** Hold `key` (an upload session) for this worker once it is free, waiting at most `waitMs`. */
  | { berth: 'lock'; id: number; key: string; waitMs: number }
  /** Free what `lock` `id` was granted. */
  | { berth: 'unlock'; id: number };

export function isBerthMessage<T extends { berth: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { berth?: unknown }).berth === 'string';
}
