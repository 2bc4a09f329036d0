import type { Logger } from 'pino';

export interface BreakerObserver {
  /** Redis answered again (true) or stopped answering (false). */
  up(value: boolean): void;
  error(): void;
}

/**
 * Whether Redis is worth asking. After a failure every caller skips it at once (no request waits a
 * timeout per call while it is down) and a probe asks it again every `retryMs`; `recover` runs
 * before anyone uses it again. Each transition is logged once.
 */
export class Breaker {
  private state: 'starting' | 'up' | 'down' = 'starting';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private wasUp = false;

  constructor(
    private readonly opts: {
      logger: Logger;
      retryMs: number;
      /** Resolves when Redis answers; rejects otherwise. */
      probe: () => Promise<void>;
      /** What must reach Redis before it is used again (the writes it missed). */
      recover: () => Promise<void>;
      observer?: BreakerObserver;
      /**
       * Why the connection is down, if it is: a command then fails only with "the client is
       * offline", while the dial's own error (refused, a certificate Redis's CA did not sign) is
       * what an operator needs in the log.
       */
      connectionError?: () => unknown;
    },
  ) {}

  get usable(): boolean {
    return this.state === 'up';
  }

  /** 'up', 'down' or 'starting' (no answer yet), for /readyz. */
  get status(): string {
    return this.state;
  }

  start(): void {
    void this.check();
  }

  failed(err: unknown): void {
    this.opts.observer?.error();
    if (this.state === 'down' || this.closed) return;
    this.state = 'down';
    this.opts.observer?.up(false);
    this.opts.logger.warn({ err: describe(this.opts.connectionError?.() ?? err) }, !this.wasUp ? 'redis: unreachable, reading storage until it answers' : 'redis: down, reading storage until it answers again');
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.closed) this.timer = setTimeout(() => void this.check(), this.opts.retryMs).unref();
  }

  private async check(): Promise<void> {
    try {
      await this.opts.probe();
      await this.opts.recover();
    } catch (err) {
      if (this.state === 'starting') this.failed(err);
      else this.schedule();
      return;
    }
    if (this.closed) return;
    this.state = 'up';
    this.opts.observer?.up(true);
    this.opts.logger.info(this.wasUp ? 'redis: back up, shared cache on again' : 'redis: connected, shared cache on');
    this.wasUp = true;
  }
}

/** The error's class and message: Redis errors carry no credentials. */
export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
