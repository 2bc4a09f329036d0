import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { faultSummary, type StorageFault } from '../storage-faults';
import { sendJson, type RouteContext } from './context';
import type { EdgeRoutes } from './router';
import { describeStorageError, isUnnamed, type Diagnosis, type ReadinessLog } from './readiness-log';

export interface HealthOptions {
  /** How long readiness waits for the storage driver before calling it unready. */
  timeoutMs: number;
  /** The storage fault that keeps writes failing now, if any (see StorageHealth). */
  fault: () => StorageFault | undefined;
  /**
   * The shared cache's state (up, down, starting), when one is configured. Only a cache: while it
   * is down reads go to storage, so the registry stays ready and says so here.
   */
  redis?: () => string;
  /**
   * Why this process is not ready to serve yet, if it is not: a worker of a group is not until every
   * worker listens, since the group gives up (and exits) when one fails to start.
   */
  starting?: () => string | undefined;
  /** Where each 503 is told with its cause, rate-limited. */
  log?: ReadinessLog;
}

/** A listing answers with a body, which names the error a bodiless HEAD could not (InvalidAccessKeyId). */
async function diagnose(driver: StorageDriver): Promise<Diagnosis | undefined> {
  try {
    await driver.list('/');
    return undefined;
  } catch (err) {
    if (isUnnamed(err)) return undefined;
    const { summary, fields } = describeStorageError(err);
    return { summary, fields: { listing: fields } };
  }
}

const PROBE_HEADERS = { 'Cache-Control': 'no-store' };

function send(ctx: RouteContext, status: number, body: Record<string, unknown>): void {
  sendJson(ctx.res, status, body, PROBE_HEADERS, 'application/json; charset=utf-8');
}

/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: no storage fault stands and
 * the storage driver answers within the timeout). Outside /v2 so that no registry auth ever applies
 * to probes.
 */
export function healthRoutes(driver: StorageDriver, opts: HealthOptions): Pick<EdgeRoutes, 'healthz' | 'readyz'> {
  const live = async (ctx: RouteContext) => send(ctx, 200, { status: 'ok' });
  // Every answer, ready or not, names the same checks: a prober sees the cache's state when it most matters.
  const answer = (ctx: RouteContext, status: number, body: Record<string, unknown>) =>
    send(ctx, status, { status: status === 200 ? 'ready' : 'unready', storage: driver.name, ...body, ...(opts.redis && { redis: opts.redis() }) });
  const ready = async (ctx: RouteContext) => {
    const starting = opts.starting?.();
    if (starting !== undefined) {
      opts.log?.unready(starting);
      return answer(ctx, 503, { error: starting });
    }
    const fault = opts.fault();
    if (fault) {
      opts.log?.unready(faultSummary(fault), { code: fault.code, path: fault.path, syscall: fault.syscall });
      // The cause is an errno class, not the backend's message or a path: safe to show a prober.
      return answer(ctx, 503, { error: faultSummary(fault) });
    }
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`storage did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    });
    try {
      // Any answer from the backend, "not found" included, proves it is reachable.
      await Promise.race([driver.stat('/docker').catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      }), timeout]);
      opts.log?.ready();
      answer(ctx, 200, { ms: Date.now() - started });
    } catch (err) {
      const timedOut = Date.now() - started >= opts.timeoutMs;
      const error = timedOut ? `no answer within ${opts.timeoutMs} ms` : 'storage error';
      // The backend's own words go to the log only: probes are often reachable from outside.
      if (timedOut) opts.log?.unready(`storage: ${error}`, { storage: driver.name });
      else {
        const { summary, fields } = describeStorageError(err);
        opts.log?.unready(`storage error: ${summary}`, { storage: driver.name, ...fields }, isUnnamed(err) ? () => diagnose(driver) : undefined);
      }
      answer(ctx, 503, { error });
    } finally {
      clearTimeout(timer);
    }
  };
  return { healthz: { GET: live, HEAD: live }, readyz: { GET: ready, HEAD: ready } };
}
