import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Forget } from '../oci/read-cache';

/** How long a worker may take to confirm it dropped what another's write changed. */
export const INVALIDATION_TIMEOUT_MS = 2_000;

interface Pending {
  waiting: Set<number>;
  done: () => void;
}

/**
 * The primary's side of cache coherence: relays one worker's `forget` to the others and resolves
 * once each has confirmed, or has exited. A worker silent past the timeout is SIGKILLed, and the
 * wait goes on until it has exited: its cache dies with it, so the write is never acknowledged while
 * a process that could still serve the old value lives.
 */
export class InvalidationRelay {
  private next = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs = INVALIDATION_TIMEOUT_MS,
  ) {}

  relay(entries: Forget[], others: Worker[]): Promise<void> {
    const reachable = others.filter((w) => w.isConnected());
    if (reachable.length === 0) return Promise.resolve();
    const id = this.next++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const w of reachable) {
          if (!pending.waiting.has(w.id)) continue;
          this.log.error({ pid: w.process.pid, timeoutMs: this.timeoutMs }, 'worker did not confirm a cache invalidation in time: killing it');
          w.process.kill('SIGKILL');
        }
      }, this.timeoutMs);
      const pending: Pending = {
        waiting: new Set(reachable.map((w) => w.id)),
        done: () => {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve();
        },
      };
      this.pending.set(id, pending);
      for (const w of reachable) w.send({ berth: 'forget', id, entries });
    });
  }

  /** `worker` confirmed forget `id`. */
  answered(worker: Worker, id: number): void {
    this.settle(this.pending.get(id), worker.id);
  }

  /** `worker` has exited: it holds nothing any more. */
  gone(worker: Worker): void {
    for (const p of [...this.pending.values()]) this.settle(p, worker.id);
  }

  private settle(p: Pending | undefined, workerId: number): void {
    if (!p?.waiting.delete(workerId)) return;
    if (p.waiting.size === 0) p.done();
  }
}
