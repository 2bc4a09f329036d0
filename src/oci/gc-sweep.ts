import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../../storage-drivers/types';
import { ensureSweepState, quietPeriod, writeSweepCandidates, writeSweepState, type SweepCandidates, type SweepState } from './gc-sweep-state';

const HEARTBEAT_MS = 5_000;
/**
 * The sweeper stops deleting once its last heartbeat is this old: writers take a sweep for dead after
 * its heartbeat stood still for 60 s (gc-fence.ts), so a sweeper frozen (SIGSTOP, a stalled backend)
 * past that point must not wake up and delete what a writer has since been told is safe.
 */
const FENCE_MS = 20_000;

export class SweepLeaseLost extends Error {
  override readonly name = 'SweepLeaseLost';
}

/**
 * The sweeper's half of the protocol in gc-fence.ts: announces what it may delete, keeps a heartbeat
 * while it deletes, and announces the end. `begin` resolves once every writer that reads the state
 * from then on sees the sweep, and once the quiet period that writers were promised has passed since
 * (see below).
 */
export class SweepNotice {
  private lastBeat = performance.now();
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private state!: SweepState;

  private constructor(private readonly driver: StorageDriver) {}

  /**
   * `quietMs`: this sweeper's quiet period, promised to writers that read the state from now on. The
   * wait after the announcement is the longer of it and the one the previous state promised: a
   * writer that read that state before this announcement may be counting on it (gc-fence.ts), so a
   * shorter setting takes effect from the sweep after this one.
   */
  static async begin(driver: StorageDriver, owner: string, candidates: Omit<SweepCandidates, 'generation'>, quietMs = 0): Promise<SweepNotice> {
    const notice = new SweepNotice(driver);
    const previous = await ensureSweepState(driver, quietMs, true);
    const generation = previous.generation + 1;
    // The list first: a writer that sees the new state must find this generation's list.
    await writeSweepCandidates(driver, { generation, ...candidates });
    notice.state = { generation, sweeping: true, heartbeat: 0, owner, ...(quietMs > 0 ? { quietMs } : {}) };
    await writeSweepState(driver, notice.state);
    notice.lastBeat = performance.now();
    notice.timer = setInterval(() => {
      notice.beating ??= notice.beat().finally(() => (notice.beating = undefined));
    }, HEARTBEAT_MS);
    notice.timer.unref();
    // Counted from the announcement's acknowledgement, which comes after it became readable: a
    // writer that did not see it read the state before that, so this wait ends later than that
    // read plus the quiet period it promised. A pause of this process only makes it longer.
    const wait = Math.max(quietMs, quietPeriod(previous));
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    return notice;
  }

  private async beat(): Promise<void> {
    const next = { ...this.state, heartbeat: this.state.heartbeat + 1 };
    try {
      await writeSweepState(this.driver, next);
      this.state = next;
      this.lastBeat = performance.now();
    } catch {
      // A missed beat only ages the lease; assertLive stops the deletes once it is too old.
    }
  }

  /** Throws when the heartbeat is too old for a delete to be safe. */
  assertLive(): void {
    if (performance.now() - this.lastBeat > FENCE_MS)
      throw new SweepLeaseLost(`the sweep's heartbeat was not written for ${FENCE_MS / 1000} s: stopped deleting`);
  }

  async end(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await writeSweepState(this.driver, { ...this.state, sweeping: false });
  }
}
