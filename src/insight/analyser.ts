import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { InsightConfig } from '../config/insight-schema';
import type { Digest } from '../oci/digest';
import type { Lease, LeaseTimings } from '../oci/lease';
import { analyseBlob } from './analyse-blob';
import { AnalysisQueue, CLAIM_TIMINGS, ClaimBusy, ClaimLost } from './analysis-queue';
import { InsightError } from './insight-error';
import type { LayerAnalysis } from './layer-analysis';
import { zstdAvailable } from './layer-media-types';
import { readLayerRecord, type LayerRecord } from './layer-records';
import { pacedStream, type RequestActivity } from './pacer';

/** What the analyser reports, for metrics (src/metrics/insight-metrics.ts) and tests. */
export interface AnalyserObserver {
  /** Jobs queued in storage, as the last look found them. */
  queueDepth(n: number): void;
  /** A record this process wrote. */
  analysed(record: LayerRecord): void;
}

export interface AnalyserDeps {
  driver: StorageDriver;
  config: Pick<InsightConfig, 'concurrency' | 'pollinterval' | 'secretheadbytes'>;
  logger: Logger;
  observer?: AnalyserObserver;
  /** The claims' timings (default CLAIM_TIMINGS). */
  claimTimings?: LeaseTimings;
  /** How often awaitRecord reads storage for a record written by another process (default 500 ms). */
  awaitPollMs?: number;
  /** The longest a failed job waits before it is tried again (default 60 s). */
  maxRetryMs?: number;
  /** This process's requests in flight: analysis yields to them (pacer.ts). None: full speed. */
  activity?: RequestActivity;
  /** The share of the time analysis takes while requests are in flight (default BUSY_SHARE). */
  busyShare?: number;
  /**
   * Analyse only the jobs a request waits for (a push under deny); the rest is another process's
   * work (the analysis child, analysis-child.ts), which `onEnqueued` tells of each job queued here.
   */
  urgentOnly?: boolean;
  onEnqueued?(digest: Digest): void;
  /** Ends the owner names of this process's claims (the analysis child's: its server's `takeOverTag`). */
  claimTag?: string;
  /**
   * A job a request waits for, claimed by a process whose claims carry this tag (this server's
   * own analysis children), is taken over at once rather than waited for: under SCHED_IDLE a child
   * gets no CPU time at all while every core is busy, so it may neither finish nor let go until
   * its claim expires. `onTakenOver` then tells the children to stop that analysis.
   */
  takeOverTag?: string;
  onTakenOver?(digest: Digest): void;
  /** This process finished a job (analysed, found done, or gone): its canonical digest. */
  onFinished?(key: string): void;
}

/**
 * Analyses queued blobs off the request path (docs/architecture.md, "Image insight: analysis in
 * storage"): up to `concurrency` at once, taken from the queue in storage, which it reads every
 * `pollinterval` (jobs of other processes, or left by a crash) and at once on a local enqueue.
 * Every process may enqueue and await; only one that was started analyses.
 */
export class LayerAnalyser implements LayerAnalysis {
  private readonly queue: AnalysisQueue;
  private readonly timings: LeaseTimings;
  private running = false;
  private abort = new AbortController();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  /** Jobs to try, by digest; a Map keeps the order they were found in. */
  private readonly pending = new Map<string, Digest>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Jobs that failed or were busy elsewhere, not tried again before `until` (performance.now()). */
  private readonly retry = new Map<string, { until: number; failures: number }>();
  /** Local awaitRecord calls, by canonical digest, woken when this process finishes the job. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Jobs a request waits for (a push under deny), by digest, with how many wait: run first, unpaced. */
  private readonly urgent = new Map<string, number>();
  /** Each job in flight's own abort, for `abandon`. */
  private readonly jobAborts = new Map<string, AbortController>();

  constructor(private readonly deps: AnalyserDeps) {
    this.timings = deps.claimTimings ?? CLAIM_TIMINGS;
    this.queue = new AnalysisQueue(deps.driver, this.timings, { tag: deps.claimTag, takeOverTag: deps.takeOverTag });
  }

  async enqueue(digest: Digest): Promise<void> {
    try {
      await this.queue.add(digest);
    } catch (err) {
      // Not lost for good: awaitRecord queues the blob again when its record is asked for.
      this.deps.logger.warn({ err, digest: digest.value }, 'could not queue a blob for analysis');
      throw err;
    }
    this.deps.onEnqueued?.(digest);
    if (!this.running || this.deps.urgentOnly) return;
    this.pending.set(digest.value, digest);
    this.pump();
  }

  async awaitRecord(digest: Digest, timeoutMs: number, signal?: AbortSignal): Promise<LayerRecord | null> {
    const canonical = await this.queue.canonicalOf(digest);
    if (canonical === null) return null;
    const found = await this.usableRecord(canonical);
    if (found !== null) return found;
    if (!(await this.queue.has(canonical))) await this.enqueue(canonical);
    if (timeoutMs <= 0) return null;
    const key = canonical.value;
    this.urgent.set(key, (this.urgent.get(key) ?? 0) + 1);
    try {
      this.runFirst(canonical);
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const remaining = deadline - performance.now();
        if (remaining <= 0 || signal?.aborted) return null;
        await this.wake(key, Math.min(remaining, this.deps.awaitPollMs ?? 500), signal);
        const record = await this.usableRecord(canonical);
        if (record !== null) return record;
        // Its claim was busy (another process had it) or its try failed: try again.
        this.runFirst(canonical);
      }
    } finally {
      const left = (this.urgent.get(key) ?? 1) - 1;
      if (left > 0) this.urgent.set(key, left);
      else this.urgent.delete(key);
    }
  }

  /**
   * Another process finished the job (`released`: let go of it, so it is free to claim now): wakes
   * this process's awaitRecord calls at once rather than at their next look at storage.
   */
  finishedElsewhere(key: string, released = false): void {
    if (released) this.retry.delete(key);
    this.notify(key);
  }

  /** Looks at a job now rather than at the next poll of the queue (another process queued it). */
  nudge(digest: Digest): void {
    if (!this.running || this.deps.urgentOnly) return;
    this.pending.set(digest.value, digest);
    this.pump();
  }

  /**
   * Lets go of a job another process waits for: its analysis here is aborted and its claim
   * released; resolves once that is done, true if it was in flight. Not taken again here for a
   * claim's lifetime.
   */
  async abandon(key: string): Promise<boolean> {
    this.pending.delete(key);
    this.retry.set(key, { until: performance.now() + this.timings.ttlMs, failures: 0 });
    const running = this.inFlight.get(key);
    this.jobAborts.get(key)?.abort();
    await running;
    return running !== undefined;
  }

  /** Starts analysing: a look at the queue now, then every `pollinterval` (urgentOnly: no looks). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    if (this.deps.urgentOnly) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.deps.config.pollinterval);
    this.timer.unref();
  }

  /** Stops taking jobs and aborts those in flight, which stay queued; resolves once they ended. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    this.abort.abort();
    this.pending.clear();
    await this.polling;
    await Promise.all(this.inFlight.values());
  }

  private poll(): Promise<void> {
    this.polling ??= this.look().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async look(): Promise<void> {
    let jobs: Digest[];
    try {
      jobs = await this.queue.list();
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not read the analysis queue');
      return;
    }
    this.deps.observer?.queueDepth(jobs.length);
    if (!this.running) return;
    // Each process starts at its own place in the list, so that replicas mostly take different jobs
    // rather than all racing for the first one.
    const start = Math.floor(Math.random() * jobs.length);
    for (const job of [...jobs.slice(start), ...jobs.slice(0, start)]) this.pending.set(job.value, job);
    this.pump();
  }

  /** First in line (pump looks at urgent jobs first), and not held back by the paced ones. */
  private runFirst(canonical: Digest): void {
    if (!this.running) return;
    this.pending.set(canonical.value, canonical);
    this.pump();
  }

  private pump(): void {
    const now = performance.now();
    // What requests wait for first, then the rest in the order found: a long backlog is not
    // reordered on every wake of every waiting push.
    for (const key of this.urgent.keys()) {
      const digest = this.pending.get(key);
      if (digest !== undefined) this.startJob(key, digest, now);
    }
    for (const [key, digest] of this.pending) {
      if (!this.running) return;
      if (this.deps.urgentOnly && !this.urgent.has(key)) {
        this.pending.delete(key);
        continue;
      }
      // A job a request waits for runs beyond the concurrency: the others may be paced (slow) now.
      if (this.inFlight.size >= this.deps.config.concurrency && !this.urgent.has(key)) continue;
      this.startJob(key, digest, now);
    }
  }

  private startJob(key: string, digest: Digest, now: number): void {
    if (!this.running) return;
    this.pending.delete(key);
    if (this.inFlight.has(key) || (this.retry.get(key)?.until ?? 0) > now) return;
    const run = this.run(digest).finally(() => {
      this.inFlight.delete(key);
      this.jobAborts.delete(key);
      this.pump();
    });
    this.inFlight.set(key, run);
  }

  private async run(job: Digest): Promise<void> {
    const own = new AbortController();
    this.jobAborts.set(job.value, own);
    const signal = AbortSignal.any([this.abort.signal, own.signal]);
    let lease: Lease | undefined;
    try {
      const canonical = await this.queue.canonicalOf(job);
      // The data is gone (collected) or its alias with it: nothing left to analyse.
      if (canonical === null) return await this.queue.finish([job], job, undefined);
      if ((await this.usableRecord(canonical)) === null) {
        const urgent = this.urgent.has(canonical.value);
        try {
          lease = await this.queue.claim(canonical, urgent);
        } catch (err) {
          if (!(err instanceof ClaimBusy)) throw err;
          if (urgent) {
            // A request waits on another replica's analysis: looked at again soon.
            this.retry.set(job.value, { until: performance.now() + (this.deps.awaitPollMs ?? 500) / 2, failures: 0 });
            return;
          }
          // Another process analyses it; looked at again once its claim could have expired.
          this.retry.set(job.value, { until: performance.now() + Math.max(this.deps.config.pollinterval, this.timings.ttlMs / 4), failures: 0 });
          return;
        }
        if (lease.tookOverFrom !== undefined) {
          this.deps.logger.info({ digest: canonical.value, from: lease.tookOverFrom }, 'analysis taken over from the analysis child for a request waiting for it');
          this.deps.onTakenOver?.(canonical);
        }
        // Done meanwhile by a holder that ended before this claim was taken.
        if ((await this.usableRecord(canonical)) === null) await this.analyse(canonical, lease, signal);
      }
      await this.queue.finish([job], canonical, lease);
      lease = undefined;
      this.retry.delete(job.value);
      this.notify(canonical.value);
      this.deps.onFinished?.(canonical.value);
    } catch (err) {
      await lease?.release().catch(() => undefined);
      if (signal.aborted) return;
      if (err instanceof ClaimLost) {
        // Taken over (by a server for a request waiting for it) or not renewed in time: not a
        // failure of the layer. Its record, or the other holder's claim, is found at the next try.
        const wait = this.urgent.has(job.value) ? (this.deps.awaitPollMs ?? 500) / 2 : Math.max(this.deps.config.pollinterval, this.timings.ttlMs / 4);
        this.retry.set(job.value, { until: performance.now() + wait, failures: 0 });
        this.deps.logger.info({ digest: job.value, reason: err.message }, 'layer analysis stopped: its claim was taken over');
        return;
      }
      const failures = (this.retry.get(job.value)?.failures ?? 0) + 1;
      const wait = Math.min(this.deps.config.pollinterval * 2 ** failures, this.deps.maxRetryMs ?? 60_000);
      this.retry.set(job.value, { until: performance.now() + wait, failures });
      this.deps.logger.warn({ err, digest: job.value, retryInMs: wait }, 'layer analysis failed: the job stays queued');
    }
  }

  private async analyse(canonical: Digest, lease: Lease, signal: AbortSignal): Promise<void> {
    const { activity } = this.deps;
    const pace = activity && (() => pacedStream(activity, () => this.urgent.has(canonical.value), this.deps.busyShare));
    const result = await analyseBlob(this.deps.driver, canonical, { secretHeadBytes: this.deps.config.secretheadbytes, signal, assertHeld: () => lease.assertHeld(), pace });
    if (result.kind === 'gone') {
      this.deps.logger.info({ digest: canonical.value }, 'blob deleted before its analysis: job dropped');
      return;
    }
    const { record } = result;
    this.deps.observer?.analysed(record);
    this.deps.logger.info({ digest: canonical.value, outcome: record.outcome, format: record.format, files: record.fileCount, findings: record.findings.length, ms: record.durationMs, error: record.error?.kind }, 'layer analysed');
  }

  /** The record, unless it is missing, unreadable (analysed again) or of a zstd layer this Node.js can now read. */
  private async usableRecord(d: Digest): Promise<LayerRecord | null> {
    let record: LayerRecord | null;
    try {
      record = await readLayerRecord(this.deps.driver, d);
    } catch (err) {
      if (err instanceof InsightError) return null;
      throw err;
    }
    if (record?.error?.kind === 'compression-unavailable' && zstdAvailable()) return null;
    return record;
  }

  private wake(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiters = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, waiters);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(key) === waiters) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  private notify(key: string): void {
    for (const done of [...(this.waiters.get(key) ?? [])]) done();
  }
}
