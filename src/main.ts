#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { createApp } from './app';
import { parseCommandLine, USAGE, UsageError, type Command } from './command-line';
import { ConfigError, loadConfigWithSource } from './config/load';
import { formatAddress, parseListenAddress } from './config/listen-address';
import { redactConfig } from './config/redact';
import type { Config } from './config/schema';
import { healthzUrl, probeHealth } from './healthcheck';
import { createListener, createServer } from './listener';
import { createLogger } from './logger';
import { checkStore } from './check/check-store';
import { formatReport } from './check/findings';
import { createMetrics } from './metrics/metrics';
import { debugHandler } from './metrics/debug-server';
import { gcDeletionRecorder } from './events/gc-events';
import { readMirrorCas } from './mirror/ca-files';
import { GarbageCollector } from './oci/gc';
import { mirrorEviction } from './mirror/eviction';
import { mirrorOf } from './mirror/routing';
import { configuredMirrors } from './mirror/mirrors';
import { GcLease, GcLockedError } from './oci/gc-lease';
import { Listing } from './oci/listing';
import { createStorageDriver, StorageSetupError } from './storage';
import { TlsSetupError } from './tls/tls-files';
import { guardSecretlessSharing, SharedStorageError, type InstanceGuard } from './shared-storage';

type Env = Record<string, string | undefined>;

/** A start-up failure: print its one-line message and exit 1. */
class StartupError extends Error {}

function fail(message: string, code = 1): never {
  process.stderr.write(message.replace(/\s*\n\s*/g, ' ') + '\n');
  process.exit(code);
}

function describeListenError(err: NodeJS.ErrnoException, addr: string): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `http.addr: ${addr} is already in use`;
    case 'EACCES':
      return `http.addr: permission denied to listen on ${addr}`;
    case 'EADDRNOTAVAIL':
      return `http.addr: ${addr} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `http.addr: cannot resolve the host of ${addr}`;
    default:
      return `http.addr: cannot listen on ${addr}: ${err.message}`;
  }
}

function listen(server: Server, addr: string): Promise<AddressInfo> {
  const { host, port } = parseListenAddress(addr);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new StartupError(describeListenError(err, addr)));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

async function serve(config: Config, logger: Logger): Promise<void> {
  // Metrics cost a few µs per request and per storage call: kept only when something can scrape them.
  const metrics = config.http.debug.addr === undefined ? undefined : createMetrics();
  const driver = await createStorageDriver(
    config,
    metrics && {
      onOperation: (name, operation, ms, err) =>
        metrics.storageDuration.observe({ driver: name, operation, result: err === undefined ? 'ok' : 'error' }, ms / 1000),
    },
  );
  // With a configured secret, replicas may share storage freely; without one, refuse to be the second.
  // A read-only registry holds no upload sessions, so the secret does not matter, and it must not write.
  const guard: InstanceGuard | undefined =
    config.http.secret === undefined && config.storage.driver !== 'inmemory' && !config.storage.maintenance.readonly.enabled
      ? await guardSecretlessSharing(driver)
      : undefined;
  const app = createApp({ config, driver, logger, metrics });

  const listener = await createListener(config, app.handler, logger);
  const server = listener.server;

  try {
    await app.ready();
  } catch (err) {
    throw new StartupError(`auth: ${(err as Error).message}`);
  }
  const bound = await listen(server, config.http.addr);
  const debugListener = metrics && (await createServer(config.http.debug.tls, 'http.debug.tls', debugHandler(metrics), logger, { http2: !config.http.http2.disabled }));
  const debug = debugListener?.server;
  if (debug) {
    const debugBound = await listen(debug, config.http.debug.addr!);
    logger.info({ address: formatAddress(debugBound.address, debugBound.port), tls: debugListener.tls }, 'debug listener (metrics) ready');
  }
  app.startBackgroundTasks();
  logger.info({ address: formatAddress(bound.address, bound.port), storage: driver.name, tls: listener.tls }, 'listening');

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
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
      process.exit(0);
    })().catch((err: unknown) => {
      logger.error({ err }, 'error while shutting down');
      process.exit(1);
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/**
 * `berth gc`: one online collection of the configured store; prints its report as JSON. What it
 * deletes goes to the notification journal first, for a running Berth on the same store to deliver.
 */
async function gc(env: Env, command: Extract<Command, { name: 'gc' }>): Promise<void> {
  const { config } = await loadConfigWithSource({ file: command.config, env });
  const driver = await createStorageDriver(config);
  const onDeleting = gcDeletionRecorder(config.notifications, { driver, source: { addr: hostname(), instanceID: randomUUID() } });
  const lease = await GcLease.acquire(driver);
  try {
    const report = await new GarbageCollector(driver, new Listing(driver)).collect({
      grace: command.grace,
      deleteUntagged: command.deleteUntagged,
      dryRun: command.dryRun,
      lease,
      onDeleting,
      eviction: mirrorEviction(driver, configuredMirrors(config)),
    });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } finally {
    await lease.release();
  }
}

/**
 * `berth check`: reports the store's inconsistencies (and with --repair fixes the safe ones); exits
 * 0 when clean, 1 when findings remain, 2 on a usage error.
 */
async function check(env: Env, command: Extract<Command, { name: 'check' }>): Promise<void> {
  const { config } = await loadConfigWithSource({ file: command.config, env });
  const mirrors = configuredMirrors(config);
  const report = await checkStore(await createStorageDriver(config), {
    repair: command.repair,
    verifyDigests: command.verifyDigests,
    isMirrored: (name) => mirrorOf(name, mirrors) !== undefined,
  });
  process.stdout.write(command.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  if (report.remaining > 0) process.exitCode = 1;
}

async function configCheck(env: Env, configFile: string | undefined): Promise<void> {
  const { config, file } = await loadConfigWithSource({ file: configFile, env });
  await readMirrorCas(config.mirrors);
  process.stdout.write(JSON.stringify(redactConfig(config), null, 2) + '\n');
  process.stderr.write(`config: ok${file ? ` (${file})` : ' (no file: defaults and environment)'}\n`);
}

/**
 * `berth healthcheck`: exit 0 when the configured server answers /healthz, 1 otherwise (the image's
 * HEALTHCHECK). Under mutual TLS without `--cert`/`--key`, the handshake is the answer (see probeHealth).
 */
async function healthcheck(env: Env, command: Extract<Command, { name: 'healthcheck' }>): Promise<void> {
  const { config } = await loadConfigWithSource({ file: command.config, env });
  let url: string;
  let client: { cert: string; key: string } | undefined;
  try {
    url = healthzUrl(config.http.addr, config.http.tls?.certificate !== undefined);
    if (command.client) client = { cert: await readFile(command.client.cert, 'utf8'), key: await readFile(command.client.key, 'utf8') };
  } catch (err) {
    fail(`healthcheck: ${(err as Error).message}`);
  }
  const result = await probeHealth(url, { client, certificateRequired: config.http.tls?.clientcas !== undefined });
  if (!result.ok) fail(`healthcheck: ${url}: ${result.why}`);
  const note = result.handshakeOnly ? ' (TLS handshake only: the listener requires a client certificate; pass --cert and --key to reach /healthz)' : '';
  // Docker keeps the last lines a check printed in `docker inspect`.
  process.stdout.write(`healthcheck: ${url}: ok${note}\n`);
}

export async function main(argv: string[], env: Env): Promise<void> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\n${USAGE}`, 2);
    throw err;
  }
  if (command.name === 'help') {
    process.stdout.write(USAGE + '\n');
    return;
  }

  try {
    if (command.name === 'config check') return await configCheck(env, command.config);
    if (command.name === 'gc') return await gc(env, command);
    if (command.name === 'check') return await check(env, command);
    if (command.name === 'healthcheck') return await healthcheck(env, command);
    const { config } = await loadConfigWithSource({ file: command.config, env });
    // Not used yet by serve (the mirror is not wired into requests), but a bad file stops start-up now.
    await readMirrorCas(config.mirrors);
    await serve(config, createLogger(config.log));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StorageSetupError || err instanceof StartupError || err instanceof TlsSetupError || err instanceof SharedStorageError || err instanceof GcLockedError)
      fail(err.message);
    fail(`berth: ${(err as Error)?.message ?? String(err)}`);
  }
}

if (require.main === module) void main(process.argv.slice(2), process.env);
