import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { formatAddress } from '../config/listen-address';
import type { Config } from '../config/schema';
import { listen, StartupError } from '../listen';
import { createServer, type ServedListener } from '../listener';
import { debugHandler } from '../metrics/debug-server';
import { guardSecretlessSharing, instanceLockFile, needsInstanceGuard, type InstanceGuard } from '../shared-storage';
import { createStorageDriver } from '../storage';
import { WorkerGroup, WorkerStartError } from './group';

/** The debug listener, answering each scrape with every worker's metrics summed. */
async function aggregatedDebugListener(config: Config, logger: Logger): Promise<ServedListener | undefined> {
  if (config.http.debug.addr === undefined) return undefined;
  const aggregator = new AggregatorRegistry();
  const source = { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
  const debug = await createServer(config.http.debug.tls, 'http.debug.tls', debugHandler(source), logger, { http2: !config.http.http2.disabled });
  const bound = await listen(debug.server, config.http.debug.addr);
  logger.info({ address: formatAddress(bound.address, bound.port), tls: debug.tls }, 'debug listener (metrics) ready');
  return debug;
}

/**
 * `berth serve` with http.workers > 1: this process serves no request; it forks the workers, gives
 * them one upload secret, restarts those that die, relays their cache invalidations, serves the
 * debug listener, and drains them all on SIGTERM (docs/architecture.md, "Workers").
 */
export async function runPrimary(config: Config, baseLogger: Logger): Promise<void> {
  const logger = baseLogger.child({ worker: 'primary' });
  // Made here, handed over IPC: never logged, on a command line or in the environment.
  const secret = config.http.secret === undefined ? randomBytes(32) : undefined;
  let lockLost = (reason: string): void => {
    logger.fatal({ reason }, 'storage lock lost: exiting');
    process.exit(1);
  };
  const guard: InstanceGuard | undefined = needsInstanceGuard(config)
    ? await guardSecretlessSharing(await createStorageDriver(config), { lockFile: instanceLockFile(config), logger, onLost: (reason) => lockLost(reason) })
    : undefined;
  const debug = await aggregatedDebugListener(config, logger);
  const group = new WorkerGroup(config, secret, logger);

  let stopping = false;
  let failed = false;
  const shutdown = (signal: NodeJS.Signals | 'storage lock lost') => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: killing the workers');
      group.kill();
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, drainMs: config.http.draintimeout, workers: config.http.workers }, 'shutting down');
    void debug?.drain(0);
    debug?.close();
    void (async () => {
      const code = await group.stop();
      await guard?.stop();
      logger.info('stopped');
      process.exit(failed ? 1 : code);
    })();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Another process may hold the storage now: serving on would be the sharing the guard refuses.
  lockLost = (reason) => {
    logger.error({ reason }, 'storage lock lost and not taken again: stopping');
    failed = true;
    shutdown('storage lock lost');
  };

  try {
    const { address, tls, storage } = await group.start();
    logger.info({ address, storage, tls, workers: config.http.workers }, 'listening');
  } catch (err) {
    await guard?.stop();
    // The worker printed its own reason; this line only says the group gave up.
    if (err instanceof WorkerStartError) throw new StartupError(`http.workers: ${err.message}: not starting`);
    throw err;
  }
}
