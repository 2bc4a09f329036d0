import { randomBytes } from 'node:crypto';
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config/schema';
import { InvalidationRelay } from './invalidation-relay';
import { type Grant, LockTable } from '../oci/lock-table';
import { isBerthMessage, type ToPrimary, type ToWorker } from './messages';
import { RestartBackoff } from './restart-backoff';

export interface GroupListening {
  address: string;
  tls: boolean;
  storage: string;
}

/** A worker exited before the whole group was listening; it printed why. */
export class WorkerStartError extends Error {}

/** Past the drain time, how long the primary still waits for workers to flush and exit. */
const EXIT_GRACE_MS = 5_000;

/**
 * The primary's workers: one per slot, forked again after a backoff when one dies, told to drain
 * when the group stops. It relays cache invalidations between them (invalidation-relay.ts).
 */
export class WorkerGroup {
  private readonly slots: (Worker | undefined)[];
  private readonly listening = new Set<number>();
  /** Workers that said hello: they listen to the channel (a message sent before would be lost). */
  private readonly greeted = new WeakSet<Worker>();
  private readonly restarts = new Set<NodeJS.Timeout>();
  private readonly backoff = new RestartBackoff();
  private readonly relay: InvalidationRelay;
  /** The group's upload sessions, held for one worker's request at a time (session-exclusion.ts). */
  private readonly locks = new LockTable();
  /** By `<worker id>:<lock id>`. */
  private readonly grants = new Map<string, Grant>();
  private started = false;
  private stopping = false;
  private worstExit = 0;
  private onStarted: { resolve(l: GroupListening): void; reject(e: Error): void } | undefined;
  private onEmpty: (() => void) | undefined;
  /** Names the group in storage (its analysis children's claims): the same in every worker. */
  private readonly instance = randomBytes(6).toString('hex');

  constructor(
    private readonly config: Config,
    /** The group's upload secret, when http.secret is not configured. */
    private readonly secret: Buffer | undefined,
    private readonly log: Logger,
  ) {
    this.slots = new Array<Worker | undefined>(config.http.workers).fill(undefined);
    this.relay = new InvalidationRelay(log);
  }

  /** Forks every worker; resolves once all listen, rejects when one exits before. */
  start(): Promise<GroupListening> {
    return new Promise((resolve, reject) => {
      this.onStarted = { resolve, reject };
      for (let slot = 0; slot < this.slots.length; slot++) this.fork(slot);
    });
  }

  /** Asks every worker to drain and resolves with 0 once all have exited cleanly, 1 otherwise. */
  stop(): Promise<number> {
    this.stopping = true;
    for (const t of this.restarts) clearTimeout(t);
    this.restarts.clear();
    const live = this.live();
    if (live.length === 0) return Promise.resolve(this.worstExit);
    for (const w of live) {
      if (w.isConnected()) w.send({ berth: 'drain' } satisfies ToWorker);
      else w.process.kill('SIGTERM');
    }
    const bound = setTimeout(() => this.kill(), this.config.http.draintimeout + EXIT_GRACE_MS).unref();
    return new Promise((resolve) => {
      this.onEmpty = () => {
        clearTimeout(bound);
        resolve(this.worstExit);
      };
    });
  }

  kill(): void {
    for (const w of this.live()) w.process.kill('SIGKILL');
  }

  private live(): Worker[] {
    return this.slots.filter((w): w is Worker => w !== undefined);
  }

  private fork(slot: number): void {
    const w = cluster.fork();
    this.slots[slot] = w;
    w.on('message', (m: unknown) => {
      if (isBerthMessage<ToPrimary>(m)) this.received(w, slot, m);
    });
    // A send racing the worker's exit; the exit is handled below.
    w.on('error', (err) => this.log.debug({ err, slot }, 'worker channel error'));
    w.on('exit', (code, signal) => this.exited(w, slot, code, signal));
  }

  private received(w: Worker, slot: number, m: ToPrimary): void {
    switch (m.berth) {
      case 'hello':
        this.greeted.add(w);
        w.send({ berth: 'setup', config: this.config, slot, secret: this.secret?.toString('base64'), instance: this.instance } satisfies ToWorker);
        return;
      case 'listening':
        this.listening.add(slot);
        if (this.started) {
          this.log.info({ slot, pid: w.process.pid }, 'worker listening again');
          w.send({ berth: 'started' } satisfies ToWorker);
        } else if (this.listening.size === this.slots.length) {
          this.started = true;
          // Until now a worker that listens answers /readyz with 503: the group still gives up if
          // another worker fails to start, and a prober must not send traffic to what will exit.
          for (const o of this.live()) if (o.isConnected()) o.send({ berth: 'started' } satisfies ToWorker);
          this.onStarted?.resolve({ address: m.address, tls: m.tls, storage: m.storage });
        }
        return;
      case 'forget': {
        // One that has not said hello yet has no cache to clear.
        const others = this.live().filter((o) => o !== w && this.greeted.has(o));
        void this.relay.relay(m.entries, others).then(() => {
          if (w.isConnected()) w.send({ berth: 'forgot', id: m.id } satisfies ToWorker);
        });
        return;
      }
      case 'forgot':
        this.relay.answered(w, m.id);
        return;
      case 'lock':
        void this.locks.acquire(m.key, m.waitMs, undefined, w.id).then((grant) => {
          // One that exited meanwhile had its holds and waits dropped (exited()).
          if (!w.isConnected()) return grant?.release();
          if (grant) this.grants.set(`${w.id}:${m.id}`, grant);
          w.send({ berth: 'locked', id: m.id, granted: grant !== null, waited: grant?.waited ?? false } satisfies ToWorker);
        });
        return;
      case 'unlock':
        this.grants.get(`${w.id}:${m.id}`)?.release();
        this.grants.delete(`${w.id}:${m.id}`);
        return;
      case 'events':
        // Slot 0 delivers; it learnt of its own segments without us.
        this.toSlotZero(w, { berth: 'events' });
        return;
      case 'analysis-queued':
        // Slot 0 runs the analysis children; it tells them of its own jobs without us.
        this.toSlotZero(w, { berth: 'analysis-queued', digest: m.digest });
        return;
    }
  }

  /**
   * A hint for slot 0, which runs the group's background work, from another worker. One not yet
   * greeted would miss it, and finds the work by its own first look when it starts anyway.
   */
  private toSlotZero(from: Worker, m: Extract<ToWorker, { berth: 'events' | 'analysis-queued' }>): void {
    const zero = this.slots[0];
    if (zero && zero !== from && this.greeted.has(zero) && zero.isConnected()) zero.send(m);
  }

  private exited(w: Worker, slot: number, code: number | null, signal: string | null): void {
    this.relay.gone(w);
    // A worker's writes end with it: the sessions it held are free at once.
    this.locks.releaseOwner(w.id);
    for (const key of [...this.grants.keys()]) if (key.startsWith(`${w.id}:`)) this.grants.delete(key);
    if (this.slots[slot] === w) {
      this.slots[slot] = undefined;
      this.listening.delete(slot);
    }
    if (this.stopping) {
      // A worker that did not drain cleanly (killed past the bound, or failed while stopping).
      if (code !== 0) this.worstExit = 1;
      if (this.live().length === 0) this.onEmpty?.();
      return;
    }
    if (!this.started) {
      // Every worker runs the same start-up: the others would fail the same way.
      this.stopping = true;
      this.kill();
      this.onStarted?.reject(new WorkerStartError(`worker ${slot} exited with ${signal ?? `code ${code}`} before listening`));
      return;
    }
    const plan = this.backoff.exited(slot);
    const fields = { slot, pid: w.process.pid, code, signal, restartInMs: plan.delayMs, exitsInLastMinute: plan.recentExits };
    if (plan.looping) this.log.error(fields, 'worker crash loop: restarting it with a growing delay');
    else this.log.warn(fields, 'worker exited: restarting it');
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (!this.stopping) this.fork(slot);
    }, plan.delayMs);
    this.restarts.add(timer);
  }
}
