import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createClient, SocketClosedUnexpectedlyError } from '@redis/client';
import type { RedisConfig } from '../config/redis-schema';
import { parseListenAddress } from '../config/listen-address';
import type { Metrics } from '../metrics/metrics';
import { within } from './deadline';
import { RedisCache } from './redis-cache';

/**
 * A node-redis client for `config` (address, credentials, database, TLS), not yet connected.
 * `reconnect` false: a failed dial fails `connect()` rather than retrying.
 */
export function createRedisClient(config: RedisConfig, reconnect: false | ((retries: number) => number)) {
  const tls = config.tls?.enabled
    ? {
        tls: true as const,
        ...(config.tls.clientcas && { ca: config.tls.clientcas.map((f) => readFileSync(f, 'utf8')) }),
        ...(config.tls.certificate && { cert: readFileSync(config.tls.certificate, 'utf8') }),
        ...(config.tls.key && { key: readFileSync(config.tls.key, 'utf8') }),
      }
    : {};
  const common = { connectTimeout: config.dialtimeout, reconnectStrategy: reconnect };
  const address = config.addr.startsWith('/') ? undefined : parseListenAddress(config.addr, 'redis.addr');
  return createClient({
    socket: address ? { host: address.host, port: address.port, ...common, ...tls } : { path: config.addr, ...common },
    username: config.username,
    password: config.password,
    database: config.db,
    // Shown by CLIENT LIST; and a command before 'ready', so a Redis that refuses the client right
    // after the TLS handshake fails the dial (retried with backoff) rather than a ready connection
    // (which node-redis redials at once: a tight loop).
    name: 'berth',
    // A command while disconnected fails at once rather than waiting for a reconnection.
    disableOfflineQueue: true,
  });
}

/**
 * The shared cache of `redis` config: one connection per process (node-redis pipelines every
 * command over it). It connects in the background: a Redis that is not there yet leaves the
 * registry serving from storage, never stops it starting.
 */
export function connectRedisCache(config: RedisConfig, logger: Logger, metrics?: Metrics): { cache: RedisCache; close(): Promise<void> } {
  // Retried quickly and for ever: the breaker decides when the registry relies on it again.
  const client = createRedisClient(config, (retries) => Math.min(50 * 2 ** retries, 1000));
  // Failures are reported by the commands that meet them (the breaker logs them once, with the
  // connection's own error while it is down: the first since it was last ready that says more
  // than "socket closed", which may come before or after the cause, e.g. a TLS alert).
  let connectionError: unknown;
  client.on('error', (err: unknown) => {
    if (connectionError === undefined || connectionError instanceof SocketClosedUnexpectedlyError) connectionError = err;
  });
  client.on('ready', () => (connectionError = undefined));
  const cache = new RedisCache(client, {
    ttlMs: config.ttl,
    readTimeoutMs: config.readtimeout,
    writeTimeoutMs: config.writetimeout,
    maxBodyBytes: config.maxmanifestbytes,
    logger,
    connectionError: () => connectionError,
    observer: metrics && {
      up: (value) => metrics.redisUp.set(value ? 1 : 0),
      error: () => metrics.redisErrors.inc(),
      lookup: (table, hit) => metrics.redisLookups.inc({ table, result: hit ? 'hit' : 'miss' }),
    },
  });
  // The first probe waits for the connection (or the dial timeout), not to count a Redis that is
  // still being dialled as down.
  let dialled: NodeJS.Timeout | undefined;
  const dialling = new Promise<void>((resolve) => (dialled = setTimeout(resolve, config.dialtimeout).unref()));
  void Promise.race([client.connect().catch(() => undefined), dialling]).then(() => {
    clearTimeout(dialled);
    cache.start();
  });
  return {
    cache,
    async close() {
      cache.close();
      // Graceful but bounded: a Redis that stopped answering mid-command (a TLS peer that refused
      // the client's certificate after the handshake) would otherwise hold shutdown for ever.
      await within(config.writetimeout, client.close()).catch(() => {
        if (client.isOpen) client.destroy();
      });
    },
  };
}
