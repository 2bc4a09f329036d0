import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema';
import type { Digest } from '../../oci/digest';
import { RestartBackoff } from '../../workers/restart-backoff';
import type { LayerRecord } from '../layer-records';
import { isInsightMessage, type FromChild, type ToChild } from './messages';

/**
 * The child's V8 flags. Its heap stays near 10 MiB while the scan's streams promote their chunks'
 * wrappers quickly, so at V8's default starting size the old space filled and was marked and
 * compacted every 50 ms, 55 times in a 4 s analysis: 64 MiB to start with analyses 1.4x as fast for
 * about 30 MiB more RSS at peak (bench/insight-analyse.ts; bench/README.md, "Analysis throughput").
 */
export const CHILD_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** What the child's reports become in the server process. */
export interface ChildHooks {
  analysed(record: LayerRecord): void;
  queueDepth(n: number): void;
  /** The child finished (or, `released`, let go of) the job with this canonical digest. */
  finished(digest: string, released: boolean): void;
}

export interface AnalysisChildOptions {
  /** The child's entry point (default: child-main.js beside this file). */
  script?: string;
  backoff?: RestartBackoff;
  /** How long a stopping child may take before it is killed (default 5 s). */
  stopGraceMs?: number;
  /** Ends the owner names of the child's claims, which its server may then take over. */
  claimTag: string;
}

/**
 * The server's analysis child (docs/architecture.md, "Image insight: the analysis child"): one
 * process that analyses the queue under `chrt -i 0` (SCHED_IDLE), so that the scan (zlib, tar,
 * hashes, the secret search and their garbage) uses only CPU time requests leave idle, on any core.
 * Forked again after a backoff when it dies; without chrt it runs at nice 19.
 */
export class AnalysisChild {
  private child?: ChildProcess;
  private greeted = false;
  private stopping = false;
  private withChrt = true;
  private restart?: NodeJS.Timeout;
  private readonly backoff: RestartBackoff;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly hooks: ChildHooks,
    private readonly opts: AnalysisChildOptions,
  ) {
    this.backoff = opts.backoff ?? new RestartBackoff();
  }

  /** The running child's pid (tests, logs). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    if (this.child === undefined) this.spawn();
  }

  /** Tells the child of a job queued here (best effort: it also polls the queue). */
  job(digest: Digest): void {
    this.send({ berth: 'insight-job', digest: digest.value });
  }

  /** The server took over this job for a request waiting for it: if the child still analyses it, it stops. */
  yield(digest: Digest): void {
    this.send({ berth: 'insight-yield', digest: digest.value });
  }

  /** Asks the child to stop (its jobs in flight stay queued); kills it past the grace time. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (!this.send({ berth: 'insight-stop' })) child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.opts.stopGraceMs ?? 5_000);
    await exited;
    clearTimeout(kill);
  }

  private send(m: ToChild): boolean {
    const child = this.child;
    if (child === undefined || !child.connected || !this.greeted) return false;
    child.send(m, (err) => {
      // A send racing the child's exit; the exit is handled on its own.
      if (err) this.logger.debug({ err }, 'analysis child channel error');
    });
    return true;
  }

  private spawn(): void {
    const script = this.opts.script ?? join(__dirname, 'child-main.js');
    const useChrt = this.withChrt;
    const node = [process.execPath, ...CHILD_NODE_FLAGS, script];
    const [command, args] = useChrt ? ['chrt', ['-i', '0', ...node]] : [node[0], node.slice(1)];
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    this.greeted = false;
    child.on('message', (m: unknown) => {
      if (isInsightMessage<FromChild>(m)) this.received(m);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (this.child !== child || child.pid !== undefined) {
        this.logger.debug({ err }, 'analysis child channel error');
        return;
      }
      // Not started at all (no exit event follows).
      this.child = undefined;
      if (useChrt && err.code === 'ENOENT') {
        this.withChrt = false;
        this.logger.info('chrt not found: the analysis child runs at nice 19 instead of SCHED_IDLE');
        if (!this.stopping) this.spawn();
        return;
      }
      this.logger.error({ err }, 'could not start the analysis child');
      this.scheduleRestart();
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) return;
      if (useChrt && !this.greeted) {
        // chrt itself failed (a platform without SCHED_IDLE, a policy that forbids it).
        this.withChrt = false;
        this.logger.warn({ code, signal }, 'the analysis child did not start under chrt: trying without it');
      } else this.logger.warn({ code, signal }, 'analysis child exited');
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.stopping) return;
    const plan = this.backoff.exited(0);
    if (plan.looping) this.logger.error({ exits: plan.recentExits, delayMs: plan.delayMs }, 'the analysis child keeps exiting');
    this.restart = setTimeout(() => {
      if (!this.stopping && this.child === undefined) this.spawn();
    }, plan.delayMs);
    this.restart.unref();
  }

  private received(m: FromChild): void {
    switch (m.berth) {
      case 'insight-hello':
        this.greeted = true;
        this.child?.send({ berth: 'insight-setup', config: this.config, claimTag: this.opts.claimTag } satisfies ToChild);
        return;
      case 'insight-ready':
        this.logger.info({ pid: this.child?.pid, scheduling: m.scheduling }, 'analysis child ready');
        return;
      case 'insight-analysed':
        this.hooks.analysed(m.record);
        return;
      case 'insight-finished':
      case 'insight-released':
        this.hooks.finished(m.digest, m.berth === 'insight-released');
        return;
      case 'insight-depth':
        this.hooks.queueDepth(m.n);
        return;
    }
  }
}
