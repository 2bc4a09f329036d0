import type { EventPeers } from '../events/notifier';
import type { InsightPeers } from '../insight/layer-analysis';
import type { Grant, Locker } from '../oci/lock-table';
import type { CachePeers, Forget } from '../oci/read-cache';
import type { ToPrimary, ToWorker } from './messages';

type LockAnswer = Extract<ToWorker, { berth: 'locked' }>;

/**
 * A worker's side of cache coherence: its writes' `forget` go to the primary, which answers once
 * every other worker dropped the entries; the others' arrive here and are applied, then confirmed.
 * And of event delivery: the segments it writes are announced, for slot 0 to deliver at once; so
 * are the blobs it queues for analysis, for slot 0's analysis children. And of upload sessions:
 * the primary holds them for the whole group (session-exclusion.ts).
 */
export class PrimaryLink implements CachePeers, EventPeers, InsightPeers, Locker {
  private next = 0;
  private closed = false;
  private readonly waiting = new Map<number, () => void>();
  private readonly locking = new Map<number, (answer: LockAnswer) => void>();
  private apply: ((entries: readonly Forget[]) => void) | undefined;
  private wake: (() => void) | undefined;
  private analyse: ((digest: string) => void) | undefined;

  constructor(private readonly send: (m: ToPrimary) => void) {}

  subscribe(apply: (entries: readonly Forget[]) => void): void {
    this.apply = apply;
  }

  written(): void {
    if (!this.closed) this.send({ berth: 'events' });
  }

  onWritten(wake: () => void): void {
    this.wake = wake;
  }

  queued(digest: string): void {
    if (!this.closed) this.send({ berth: 'analysis-queued', digest });
  }

  onQueued(analyse: (digest: string) => void): void {
    this.analyse = analyse;
  }

  forget(entries: Forget[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ berth: 'forget', id, entries });
    });
  }

  acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<Grant | null> {
    signal?.throwIfAborted();
    // The primary is gone and the other workers drain: one may still be writing to the session.
    if (this.closed) return Promise.resolve(null);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      // The answer still comes: a grant that arrives for an aborted request is handed back at once.
      const onAbort = () => reject(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.locking.set(id, (answer) => {
        signal?.removeEventListener('abort', onAbort);
        if (!answer.granted) return resolve(null);
        let released = false;
        const grant: Grant = {
          waited: answer.waited,
          release: () => {
            if (released || this.closed) return;
            released = true;
            this.send({ berth: 'unlock', id });
          },
        };
        if (signal?.aborted) grant.release();
        else resolve(grant);
      });
      this.send({ berth: 'lock', id, key, waitMs });
    });
  }

  /** A `forget`, `forgot`, `events`, `analysis-queued` or `locked` from the primary. Before the app exists there is nothing to do. */
  receive(m: Extract<ToWorker, { berth: 'forget' | 'forgot' | 'events' | 'analysis-queued' | 'locked' }>): void {
    if (m.berth === 'analysis-queued') {
      this.analyse?.(m.digest);
      return;
    }
    if (m.berth === 'locked') {
      this.locking.get(m.id)?.(m);
      this.locking.delete(m.id);
      return;
    }
    if (m.berth === 'events') {
      this.wake?.();
      return;
    }
    if (m.berth === 'forgot') {
      this.waiting.get(m.id)?.();
      this.waiting.delete(m.id);
      return;
    }
    this.apply?.(m.entries);
    this.send({ berth: 'forgot', id: m.id });
  }

  /**
   * The primary is gone, and every other worker with it (they exit when it does, see worker.ts):
   * nobody is left to hold a stale entry.
   */
  disconnected(): void {
    this.closed = true;
    for (const resolve of this.waiting.values()) resolve();
    this.waiting.clear();
    for (const answer of this.locking.values()) answer({ berth: 'locked', id: -1, granted: false, waited: false });
    this.locking.clear();
  }
}
