import type { EventPeers } from '../events/notifier';
import type { CachePeers, Forget } from '../oci/read-cache';
import type { ToPrimary, ToWorker } from './messages';

/**
 * A worker's side of cache coherence: its writes' `forget` go to the primary, which answers once
 * every other worker dropped the entries; the others' arrive here and are applied, then confirmed.
 * And of event delivery: the segments it writes are announced, for slot 0 to deliver at once.
 */
export class PrimaryLink implements CachePeers, EventPeers {
  private next = 0;
  private closed = false;
  private readonly waiting = new Map<number, () => void>();
  private apply: ((entries: readonly Forget[]) => void) | undefined;
  private wake: (() => void) | undefined;

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

  forget(entries: Forget[]): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ berth: 'forget', id, entries });
    });
  }

  /** A `forget`, `forgot` or `events` from the primary. Before the app exists there is nothing to do. */
  receive(m: Extract<ToWorker, { berth: 'forget' | 'forgot' | 'events' }>): void {
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
  }
}
