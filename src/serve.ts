import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry as MetricsRegistry } from 'prom-client';
import { AuthSetupError } from '../auth';
import { createApp } from './app';
import { formatAddress } from './config/listen-address';
import type { Config } from './config/schema';
import { listen, StartupError } from './listen';
import { createListener, createServer } from './listener';
import { createMetrics } from './metrics/metrics';
import { debugHandler, registryMetrics } from './metrics/debug-server';
import type { EventPeers } from './events/notifier';
import type { InsightPeers } from './insight/layer-analysis';
import type { CachePeers } from './oci/read-cache';
import type { Locker } from './oci/lock-table';
import { guardSecretlessSharing, instanceLockFile, needsInstanceGuard, type InstanceGuard } from './shared-storage';
import { createStorageDriver } from './storage';
import { AnalysisChild, type ChildHooks } from './insight/child/analysis-child';
import { AnalysisChildren } from './insight/child/analysis-children';

/** What a worker of a group (src/workers, http.workers > 1) gets from its primary. */
export interface WorkerRole {
  /** 0 to http.workers - 1; slot 0 runs the group's scheduled work. */
  slot: number;
  /** The group's upload secret when http.secret is not configured. */
  groupSecret?: Buffer;
  /** Random, made by the primary, the same in every worker: names the group's processes in storage. */
  instanceId: string;
  peers: CachePeers & EventPeers & InsightPeers;
  /** The primary, which holds the group's upload sessions. */
  sessionLocker: Locker;
  /** Hands the worker's metrics to the primary, which serves the debug listener. */
  shareMetrics(registry: MetricsRegistry): void;
  /** Calls `stop` once when the group stops (or the primary is gone). */
  onStop(stop: () => void): void;
  /** Tells the primary this worker serves. */
  listening(info: { address: string; tls: boolean; storage: string }): void;
  /** Whether the primary said that every worker of the group listens. */
  groupStarted(): boolean;
}

/**
 * `berth serve` as one process, or as one worker of a group (`role`): a worker leaves the instance
 * guard, the debug listener and signals to its primary, and only slot 0 runs the scheduled work.
 */
export async function serve(config: Config, logger: Logger, role?: WorkerRole): Promise<void> {
  // Metrics cost a few µs per request and per storage call: kept only when something can scrape them.
  const metrics = config.http.debug.addr === undefined ? undefined : createMetrics({ redis: config.redis !== undefined });
  if (metrics) role?.shareMetrics(metrics.registry);
  const driver = await createStorageDriver(
    config,
    metrics && {
      onOperation: (name, operation, ms, err) =>
        metrics.storageDuration.observe({ driver: name, operation, result: err === undefined ? 'ok' : 'error' }, ms / 1000),
    },
  );
  // Without a configured secret, refuse to be the second process on the storage. A group of workers
  // is one instance: its primary keeps the registration.
  // Bound below, once a drain can run; until then losing the lock simply ends the process.
  let lockLost = (reason: string): void => {
    logger.fatal({ reason }, 'storage lock lost: exiting');
    process.exit(1);
  };
  const guard: InstanceGuard | undefined =
    !role && needsInstanceGuard(config)
      ? await guardSecretlessSharing(driver, { lockFile: instanceLockFile(config), logger, onLost: (reason) => lockLost(reason) })
      : undefined;
  // A child would open a store of its own: an in-memory one is this process's alone.
  const claimTag = role?.instanceId ?? randomBytes(6).toString('hex');
  const insightChild =
    config.insight.runner === 'child' && config.storage.driver !== 'inmemory'
      ? {
          claimTag,
          start: (hooks: ChildHooks) => new AnalysisChildren(Array.from({ length: config.insight.processes }, () => new AnalysisChild(config, logger, hooks, { claimTag }))),
        }
      : undefined;
  const app = createApp({
    config,
    driver,
    logger,
    metrics,
    groupSecret: role?.groupSecret,
    cachePeers: role?.peers,
    eventPeers: role?.peers,
    insightPeers: role?.peers,
    sessionLocker: role?.sessionLocker,
    groupStarted: role && (() => role.groupStarted()),
    insightChild,
  });

  const listener = await createListener(config, app.handler, logger);
  const server = listener.server;

  try {
    await app.ready();
  } catch (err) {
    // An AuthSetupError already starts with the key that names the file.
    throw new StartupError(err instanceof AuthSetupError ? err.message : `auth: ${(err as Error).message}`);
  }
  const bound = await listen(server, config.http.addr);
  const debugListener =
    metrics && !role ? await createServer(config.http.debug.tls, 'http.debug.tls', debugHandler(registryMetrics(metrics.registry)), logger, { http2: !config.http.http2.disabled }) : undefined;
  const debug = debugListener?.server;
  if (debug) {
    const debugBound = await listen(debug, config.http.debug.addr!);
    logger.info({ address: formatAddress(debugBound.address, debugBound.port), tls: debugListener.tls }, 'debug listener (metrics) ready');
  }
  if (!role || role.slot === 0) app.startBackgroundTasks();
  const address = formatAddress(bound.address, bound.port);
  if (role) logger.info({ address, storage: driver.name, tls: listener.tls, pid: process.pid }, 'worker listening');
  else logger.info({ address, storage: driver.name, tls: listener.tls, workers: 1 }, 'listening');
  role?.listening({ address, tls: listener.tls, storage: driver.name });

  let stopping = false;
  let exitCode = 0;
  const shutdown = (signal: NodeJS.Signals | 'primary' | 'storage lock lost') => {
    if (stopping) {
      // A worker is asked twice when a signal reaches its whole process group: its primary decides.
      if (role) return;
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, drainMs: config.http.draintimeout }, 'shutting down');
    void (async () => {
      // Scrapes are not worth waiting for.
      void debugListener?.drain(0);
      listener.close();
      debugListener?.close();
      const clean = await listener.drain(config.http.draintimeout);
      if (!clean) logger.warn('drain timeout reached: closed the connections still open');
      await app.close();
      await guard?.stop();
      logger.info('stopped');
      // Bounded: a destination whose pipe is broken may never call back.
      await new Promise<void>((resolve) => {
        setTimeout(resolve, 1000).unref();
        logger.flush(() => resolve());
      });
      process.exit(exitCode);
    })().catch((err: unknown) => {
      logger.error({ err }, 'error while shutting down');
      process.exit(1);
    });
  };
  process.on('SIGTERM', shutdown);
  // Another process may hold the storage now: serving on would be the sharing the guard refuses.
  lockLost = (reason) => {
    logger.error({ reason }, 'storage lock lost and not taken again: stopping');
    exitCode = 1;
    shutdown('storage lock lost');
  };
  if (role) {
    // Ctrl-C reaches the whole group; the primary turns it into one drain of every worker.
    process.on('SIGINT', () => undefined);
    role.onStop(() => shutdown('primary'));
  } else process.on('SIGINT', shutdown);
}
