/** A key held until `release()`; `waited` says whether another held it when it was asked for. */
export interface Grant {
  waited: boolean;
  release(): void;
}

/** Hands out keys one holder at a time: what session-locks.ts asks of this process or of the group's primary. */
export interface Locker {
  /** The key, once free within `waitMs`; null if it was not. Rejects with the signal's reason on abort. */
  acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<Grant | null>;
}

interface Waiter {
  owner: number | undefined;
  grant: (g: Grant | null) => void;
}

interface Entry {
  owner: number | undefined;
  queue: Waiter[];
}

/**
 * Keys held by one holder at a time, the others queued first come, first served, each for a bounded
 * time. In memory: one process's (or, through the primary, one worker group's) exclusion. An
 * `owner` lets the primary drop at once whatever a worker that exited held or waited for.
 */
export class LockTable implements Locker {
  private readonly held = new Map<string, Entry>();

  acquire(key: string, waitMs: number, signal?: AbortSignal, owner?: number): Promise<Grant | null> {
    signal?.throwIfAborted();
    const entry = this.held.get(key);
    if (entry === undefined) {
      this.held.set(key, { owner, queue: [] });
      return Promise.resolve(this.grant(key, false));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        grant: (g) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(g);
        },
      };
      const leave = () => {
        const at = entry.queue.indexOf(waiter);
        if (at >= 0) entry.queue.splice(at, 1);
      };
      const timer = setTimeout(() => {
        leave();
        waiter.grant(null);
      }, waitMs);
      const onAbort = () => {
        leave();
        clearTimeout(timer);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.queue.push(waiter);
    });
  }

  /** Everything `owner` held is released and everything it waited for is given up. */
  releaseOwner(owner: number): void {
    for (const [key, entry] of [...this.held]) {
      for (const w of entry.queue.filter((q) => q.owner === owner)) {
        entry.queue.splice(entry.queue.indexOf(w), 1);
        w.grant(null);
      }
      if (entry.owner === owner) this.handOn(key, entry);
    }
  }

  /** Whether anything holds `key` (for tests and metrics). */
  isHeld(key: string): boolean {
    return this.held.has(key);
  }

  private grant(key: string, waited: boolean): Grant {
    const entry = this.held.get(key)!;
    let released = false;
    return {
      waited,
      release: () => {
        if (released) return;
        released = true;
        // A grant outlived by its owner's exit (releaseOwner) was handed on already.
        if (this.held.get(key) === entry) this.handOn(key, entry);
      },
    };
  }

  /** The next waiter takes `key`, or it is free. */
  private handOn(key: string, entry: Entry): void {
    const next = entry.queue.shift();
    if (next === undefined) {
      this.held.delete(key);
      return;
    }
    const successor: Entry = { owner: next.owner, queue: entry.queue };
    this.held.set(key, successor);
    next.grant(this.grant(key, true));
  }
}
