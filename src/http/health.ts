import type { Request, Response, Router } from 'express';
import express from 'express';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { faultSummary, type StorageFault } from '../storage-faults';

export interface HealthOptions {
  /** How long readiness waits for the storage driver before calling it unready. */
  timeoutMs: number;
  /** The storage fault that keeps writes failing now, if any (see StorageHealth). */
  fault: () => StorageFault | undefined;
}

function send(res: Response, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.status(status).set({ 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: no storage fault stands and
 * the storage driver answers within the timeout). Outside /v2 so that no registry auth ever applies
 * to probes.
 */
export function healthRoutes(driver: StorageDriver, opts: HealthOptions): Router {
  const router = express.Router();
  router.get('/healthz', (_req: Request, res: Response) => send(res, 200, { status: 'ok' }));
  router.get('/readyz', async (_req: Request, res: Response) => {
    const fault = opts.fault();
    // The cause is an errno class, not the backend's message or a path: safe to show a prober.
    if (fault) return send(res, 503, { status: 'unready', storage: driver.name, error: faultSummary(fault) });
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
      send(res, 200, { status: 'ready', storage: driver.name, ms: Date.now() - started });
    } catch {
      const timedOut = Date.now() - started >= opts.timeoutMs;
      // Probes are often reachable from outside: say what failed, never the backend's own message.
      send(res, 503, { status: 'unready', storage: driver.name, error: timedOut ? `no answer within ${opts.timeoutMs} ms` : 'storage error' });
    } finally {
      clearTimeout(timer);
    }
  });
  return router;
}
