import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { StorageDriver } from '../storage-drivers/types';
import type { Metrics } from './metrics/metrics';
import { faultSummary, storageFault, type StorageFault } from './storage-faults';
import { paths } from './oci/paths';

export interface StorageHealthOptions {
  driver: StorageDriver;
  logger: Logger;
  metrics?: Metrics;
  /** How often a probe checks for recovery while a fault stands. */
  probeIntervalMs: number;
  /**
   * A read-only registry never writes, so its probe reads instead: a write could never succeed on
   * a read-only mount, and readiness there means "can serve pulls".
   */
  readOnly: boolean;
}

/**
 * Whether writes can succeed, as far as this process has seen. A storage fault that fails a request
 * makes it unready at once; from then on a probe (write and delete a small file under `/berth/`,
 * off the request path, at most once per interval) decides when it is ready again. Nothing else
 * ever probes, so a healthy registry pays nothing for this.
 */
export class StorageHealth {
  private current: StorageFault | undefined;
  /** Bumped on every fault, so a probe that started before one cannot clear it. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  private readonly probePath = paths.probe(randomBytes(12).toString('hex'));

  constructor(private readonly opts: StorageHealthOptions) {}

  /** The fault that keeps the registry unready, if any. */
  get fault(): StorageFault | undefined {
    return this.current;
  }

  /** A request failed with `fault`: log it with its path, count it, and stay unready until a probe passes. */
  report(fault: StorageFault, context: Record<string, unknown> = {}): void {
    const { logger, metrics } = this.opts;
    logger.error({ ...context, code: fault.code, path: fault.path, syscall: fault.syscall }, `storage fault: ${faultSummary(fault)}`);
    metrics?.storageFaults.inc({ code: fault.code });
    this.generation++;
    this.current = fault;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.probing || this.stopped) return;
    this.timer = setTimeout(() => void this.probe(), this.opts.probeIntervalMs).unref();
  }

  private async probe(): Promise<void> {
    this.timer = undefined;
    this.probing = true;
    const generation = this.generation;
    try {
      await this.probeOnce();
      if (generation === this.generation && this.current) {
        this.opts.logger.info({ code: this.current.code }, 'storage answers again: ready');
        this.current = undefined;
      }
    } catch (err) {
      // A probe failure keeps the registry unready; a new cause replaces the old one.
      const fault = storageFault(err);
      if (fault && generation === this.generation) this.current = fault;
      this.opts.logger.debug({ err }, 'storage probe failed');
    } finally {
      this.probing = false;
      if (this.current) this.schedule();
    }
  }

  private async probeOnce(): Promise<void> {
    const { driver } = this.opts;
    if (this.opts.readOnly) {
      await driver.list('/');
      return;
    }
    await driver.putContent(this.probePath, Buffer.from(new Date().toISOString()));
    await driver.delete(this.probePath);
  }
}
