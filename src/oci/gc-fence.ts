import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../../storage-drivers/types';
import { DomainError } from './errors';
import { ensureSweepState, quietPeriod, readSweepCandidates, type SweepState } from './gc-sweep-state';

/** The sweep state a write started under, with when its read started (monotonic ms, and wall-clock ms). */
export type Before = SweepState & { readAt: number; readAtWall: number };

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
  /** How old a read `before` may reuse is; older, it reads again (default 5 s). */
  reuseMs?: number;
  /**
   * The quiet period to promise on a store that has no sweep state yet (the configured one; see
   * ensureSweepState). 0 (the default): none is promised until a sweep writes one.
   */
  quietMs?: number;
}

/**
 * The writers' half of the collection protocol (the sweeper's half is in gc-sweep.ts). A write that
 * makes content reachable reads the sweep state before it checks what it references (`before`),
 * writes its links, then reads the state again (`after`). The sweeper writes its state before it
 * re-reads the links written since its mark began, so of a write and a sweep that overlap, at least
 * one sees the other: either the sweep finds the fresh link and keeps the content, or the write sees
 * the sweep, waits until it can no longer delete what the write references, and checks again.
 *
 * Each read is a storage request (on S3, one billed GET), so writes share them:
 * - `before` may be any read that started before the write's checks: the state only moves forward
 *   (generations grow; a sweep announces itself before it ends), so an older read names the same or
 *   an earlier sweep, which makes `after` count more sweeps as possibly deleting since, never fewer.
 *   The cost of a stale `before` is a 'recheck' the write did not need; reuse is bounded by
 *   `reuseMs` so that a process idle across several sweeps does not pay it on every first write,
 *   and only a read that saw no sweep running is reused: while one runs, a write may clear against
 *   it only once it was known dead before the write's `before` (see `after`), which an old read
 *   cannot show, so every write would check twice until the next read. It joins a read in flight.
 * - `after` must start after the write's links are durable, or it could miss a sweep that announced
 *   itself after it but re-read the links before they landed. A read that is in flight when a writer
 *   arrives may have started before its links; so the writer waits for the next read, which starts
 *   when that one ends and serves every writer that arrived meanwhile. Of N concurrent writers, at
 *   most two reads each way are shared instead of N.
 * - `after` needs no read at all when `before` saw no sweep and promised a quiet period (SweepState's
 *   `quietMs`, written by every sweep) that has not half passed since it started: a sweep that
 *   announced itself after that read waits the whole quiet period before it re-reads the links, so
 *   it re-reads them after they landed; one announced before the read would have been seen in it.
 *   Time is measured from before the read was sent to after the links were acknowledged, on both
 *   the monotonic and the wall clock, the larger counting (a process paused or a machine suspended
 *   in between shows on one of them), and half the period is left as a margin. On S3 this saves one
 *   request and one round trip per write.
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
  /** The read that started last among those that finished (reused by `before`). */
  private latest?: Before;
  /** The read in flight, and the one queued behind it for writers that arrived after it started. */
  private inflight?: Promise<Before>;
  private queued?: Promise<Before>;
  private readonly reuseMs: number;
  private readonly quietMs: number;

  constructor(
    private readonly driver: StorageDriver,
    private readonly opts: GcFenceOptions = {},
  ) {
    this.deadAfterMs = opts.deadAfterMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 200;
    this.maxWaitMs = opts.maxWaitMs ?? 90_000;
    this.reuseMs = opts.reuseMs ?? 5_000;
    this.quietMs = opts.quietMs ?? 0;
  }

  /** Read before a write checks that what it references exists (an earlier read will do: see above). */
  async before(): Promise<Before> {
    const latest = this.latest;
    const reuse = latest && !latest.sweeping && performance.now() - latest.readAt <= this.reuseMs;
    const state = reuse ? latest : await (this.inflight ?? this.read());
    // Cached answers to "does this exist" may predate a deletion: a new generation or a sweep in
    // progress makes them unreliable.
    if (state.generation !== this.generation || (state.sweeping && this.beats.get(state.generation)?.dead === undefined)) {
      this.generation = state.generation;
      this.opts.onSweep?.();
    }
    return state;
  }

  /**
   * Read after the write's links are in storage. Waits while a live sweep may still delete one of
   * `refs`; then 'clear' when no sweep can have deleted any of them since `before`, 'recheck' when
   * one may have (the caller checks what it references again, past any cache, and writes again).
   */
  async after(before: Before, refs: Refs): Promise<'clear' | 'recheck'> {
    if (withinQuietPeriod(before)) return 'clear';
    const deadline = performance.now() + this.maxWaitMs;
    for (;;) {
      const now = await this.readAfterNow();
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

  /** A read that starts after this call, shared with every caller waiting for the same one. */
  private readAfterNow(): Promise<Before> {
    const running = this.inflight;
    if (!running) return this.read();
    this.queued ??= running.then(
      () => this.read(),
      () => this.read(),
    );
    return this.queued;
  }

  private read(): Promise<Before> {
    this.queued = undefined;
    const readAt = performance.now();
    const readAtWall = Date.now();
    const reading = ensureSweepState(this.driver, this.quietMs).then((state) => {
      const got = { ...state, readAt, readAtWall };
      if (!this.latest || this.latest.readAt <= readAt) this.latest = got;
      return got;
    });
    this.inflight = reading;
    const done = () => {
      if (this.inflight === reading) this.inflight = undefined;
    };
    reading.then(done, done);
    return reading;
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

/** Whether a write whose links are durable now may count on the quiet period `before` promised. */
function withinQuietPeriod(before: Before): boolean {
  const quiet = quietPeriod(before);
  if (before.sweeping || quiet === 0) return false;
  const elapsed = Math.max(performance.now() - before.readAt, Date.now() - before.readAtWall);
  return elapsed < quiet / 2;
}
