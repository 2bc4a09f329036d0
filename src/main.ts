#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import cluster from 'node:cluster';
import pino from 'pino';
import { parseCommandLine, USAGE, UsageError, type Command } from './command-line';
import { loadConfigWithSource } from './config/load';
import { redactConfig } from './config/redact';
import { healthzUrl, probeHealth } from './healthcheck';
import { createLogger } from './logger';
import { checkStore } from './check/check-store';
import { formatReport } from './check/findings';
import { gcDeletionRecorder } from './events/gc-events';
import { readMirrorCas } from './mirror/ca-files';
import { GarbageCollector, type GcReport } from './oci/gc';
import { mirrorEviction } from './mirror/eviction';
import { mirrorOf } from './mirror/routing';
import { configuredMirrors } from './mirror/mirrors';
import { GcLease } from './oci/gc-lease';
import { Listing } from './oci/listing';
import { forgetEverything } from './redis/offline-invalidation';
import { createStorageDriver } from './storage';
import { fail, failWith } from './fail';
import { serve } from './serve';
import { runPrimary } from './workers/primary';
import { runWorker } from './workers/worker';
import { runInsight } from './insight-cli/run-insight';
import { RegistrySource } from './insight-cli/registry-source';
import { StoreSource } from './insight-cli/store-source';

type Env = Record<string, string | undefined>;

/**
 * `berth gc`: one online collection of the configured store; prints its report as JSON. What it
 * deletes goes to the notification journal first, for a running Berth on the same store to deliver.
 */
async function gc(env: Env, command: Extract<Command, { name: 'gc' }>): Promise<void> {
  const { config } = await loadConfigWithSource({ file: command.config, env });
  const driver = await createStorageDriver(config);
  const onDeleting = gcDeletionRecorder(config.notifications, { driver, source: { addr: hostname(), instanceID: randomUUID() } });
  const lease = await GcLease.acquire(driver);
  let report: GcReport;
  try {
    report = await new GarbageCollector(driver, new Listing(driver)).collect({
      grace: command.grace,
      quietMs: config.storage.maintenance.gc.quietperiod,
      deleteUntagged: command.deleteUntagged,
      dryRun: command.dryRun,
      lease,
      onDeleting,
      eviction: mirrorEviction(driver, configuredMirrors(config)),
    });
  } finally {
    await lease.release();
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  // Running replicas cached facts about what it deleted in Redis: drop them, as the scheduled
  // collector does. The deletions stand either way, so a Redis that does not confirm is an error
  // (exit 1) that says what the operator can do, after the report of what was deleted.
  if (config.redis && !report.dryRun && report.blobs.length + report.manifests.length > 0)
    await forgetEverything(config.redis).catch((err: Error) => {
      process.stderr.write(`gc: ${err.message}\n`);
      process.exitCode = 1;
    });
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
  // A repair removes links behind the replicas' backs, as `berth gc` deletes: what they cached in
  // Redis goes too (or the operator is told how).
  if (config.redis && report.findings.some((f) => f.repaired === true))
    await forgetEverything(config.redis).catch((err: Error) => {
      process.stderr.write(`check: ${err.message}\n`);
      process.exitCode = 1;
    });
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

/**
 * `berth insight IMAGE`: an image's report from a running registry, or with --store from the
 * configured store itself, waiting while it is pending. Exit 0 with a report, 1 when none came (an
 * error, or still pending after --wait), 2 on a usage error, 3 with --fail-on-secrets when the
 * report lists secrets.
 */
async function insight(env: Env, command: Extract<Command, { name: 'insight' }>): Promise<void> {
  const options = { image: command.image, storage: command.storage, json: command.json, waitSeconds: command.wait, failOnSecrets: command.failOnSecrets };
  const out = (s: string) => process.stdout.write(s);
  const err = (s: string) => process.stderr.write(s);
  if (!command.store) {
    const credentials = command.user !== undefined ? { user: command.user, password: command.password ?? '' } : undefined;
    process.exitCode = await runInsight(options, new RegistrySource(command.registry, credentials), out, err);
    return;
  }
  const { config } = await loadConfigWithSource({ file: command.config, env });
  // On standard error, warnings only: standard output is the report (JSON with --json).
  const logger = createLogger({ ...config.log, level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const source = new StoreSource(await createStorageDriver(config), config, logger);
  try {
    process.exitCode = await runInsight(options, source, out, err);
  } finally {
    await source.close();
  }
}

export async function main(argv: string[], env: Env): Promise<void> {
  // A worker of a group takes its configuration from its primary, never from the command line.
  if (cluster.isWorker) return runWorker();
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
    if (command.name === 'insight') return await insight(env, command);
    const { config } = await loadConfigWithSource({ file: command.config, env });
    // Not used yet by serve (the mirror is not wired into requests), but a bad file stops start-up now.
    await readMirrorCas(config.mirrors);
    if (config.http.workers === 1) await serve(config, createLogger(config.log));
    else await runPrimary(config, createLogger(config.log));
  } catch (err) {
    failWith(err);
  }
}

if (require.main === module) void main(process.argv.slice(2), process.env);
