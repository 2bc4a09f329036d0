import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../../storage-drivers/types';
import { DomainError } from './errors';
import { readSweepCandidates, readSweepState, type SweepState } from './gc-sweep-state';

/** The sweep state a write started under, with when it was read (monotonic ms). */
export type Before = SweepState & { readAt: number };

/** What a write makes reachable: blob data by stored digest, and manifests as `repository@digest`. */
export interface Refs {
  blobs: Iterable<string>;
  manifests: Iterable<string>;
}

export interface GcFenceOptions {
  /** A sweep whose heartbeat stood still this long (this process's clock) is taken for dead. */
  deadAfterMs?: number;
  pollMs?: number;
  /** How long a write waits for a sweep that may delete what it references, before answering 503. */
  maxWaitMs?: number;
  /** Told when a sweep may have deleted something since the cache was filled. */
  onSweep?: () => void;
}

/**
 * The writers' half of the collection protocol (the sweeper's half is in gc-sweep.ts). A write that
 * makes content reachable reads the sweep state before it checks what it references (`before`),
 * writes its links, then reads the state again (`after`). The sweeper writes its state before it
 * re-reads the links written since its mark began, so of a write and a sweep that overlap, at least
 * one sees the other: either the sweep finds the fresh link and keeps the content, or the write sees
 * the sweep, waits until it can no longer delete what the write references, and checks again.
 */
export class GcFence {
  private readonly deadAfterMs: number;
  private readonly pollMs: number;
  private readonly maxWaitMs: number;
  private candidates?: { generation: number; blobs: Set<string>; manifests: Set<string> };
  /**
   * Per generation, the last heartbeat seen and since when (monotonic ms): a value that stood still
   * for deadAfterMs means a dead sweeper, and `dead` records when this process concluded so.
   */
  private readonly beats = new Map<number, { heartbeat: number; since: number; dead?: number }>();
  private generation = -1;

  constructor(
    private readonly driver: StorageDriver,
    private readonly opts: GcFenceOptions = {},
  ) {
    this.deadAfterMs = opts.deadAfterMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 200;
    this.maxWaitMs = opts.maxWaitMs ?? 90_000;
  }

  /** Read before a write checks that what it references exists. */
  async before(): Promise<Before> {
    const readAt = performance.now();
    const state = await readSweepState(this.driver);
    // Cached answers to "does this exist" may predate a deletion: a new generation or a sweep in
    // progress makes them unreliable.
    if (state.generation !== this.generation || (state.sweeping && this.beats.get(state.generation)?.dead === undefined)) {
      this.generation = state.generation;
      this.opts.onSweep?.();
    }
    return { ...state, readAt };
  }

  /**
   * Read after the write's links are in storage. Waits while a live sweep may still delete one of
   * `refs`; then 'clear' when no sweep can have deleted any of them since `before`, 'recheck' when
   * one may have (the caller checks what it references again, past any cache, and writes again).
   */
  async after(before: Before, refs: Refs): Promise<'clear' | 'recheck'> {
    const deadline = performance.now() + this.maxWaitMs;
    for (;;) {
      const now = await readSweepState(this.driver);
      const live = now.sweeping && this.alive(now);
      if (live && (await this.conflicts(now.generation, refs))) {
        if (performance.now() > deadline)
          throw new DomainError('collection-conflict', {}, 'garbage collection is deleting content this request references; retry later');
        await new Promise((r) => setTimeout(r, this.pollMs));
        continue;
      }
      // The sweeps that may have deleted since `before`: from the one running then (or the next)
      // up to the current one. One already known dead then deleted nothing since (a sweeper stops
      // deleting long before writers conclude it died): without this, a collection killed
      // mid-sweep would make every write that references its candidates check again forever.
      const deadThen = (this.beats.get(before.generation)?.dead ?? Infinity) <= before.readAt;
      const first = before.sweeping && !deadThen ? before.generation : before.generation + 1;
      if (first > now.generation) return 'clear';
      if (first === now.generation && !(await this.conflicts(now.generation, refs))) return 'clear';
      this.opts.onSweep?.();
      return 'recheck';
    }
  }

  private alive(state: SweepState): boolean {
    const seen = this.beats.get(state.generation);
    const t = performance.now();
    if (!seen || seen.heartbeat !== state.heartbeat) {
      if (this.beats.size > 16) this.beats.clear();
      this.beats.set(state.generation, { heartbeat: state.heartbeat, since: t });
      return true;
    }
    if (seen.dead !== undefined) return false;
    if (t - seen.since < this.deadAfterMs) return true;
    seen.dead = t;
    return false;
  }

  /** Whether the sweep of `generation` may delete any of refs (true when its list cannot be read). */
  private async conflicts(generation: number, refs: Refs): Promise<boolean> {
    if (this.candidates?.generation !== generation) {
      const c = await readSweepCandidates(this.driver);
      if (c?.generation !== generation) return true;
      this.candidates = { generation, blobs: new Set(c.blobs), manifests: new Set(c.manifests) };
    }
    const { blobs, manifests } = this.candidates;
    for (const b of refs.blobs) if (blobs.has(b)) return true;
    for (const m of refs.manifests) if (manifests.has(m)) return true;
    return false;
  }
}
