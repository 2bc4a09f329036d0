#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import cluster from 'node:cluster';
import { parseCommandLine, UsageError, type Command } from './command-line';
import { loadConfigWithSource } from './config/load';
import { healthzUrl, probeHealth } from './healthcheck';
import { createLogger } from './logger';
import { readMirrorCas } from './mirror/ca-files';
import { fail, failWith } from './fail';
import { serve } from './serve';
import { runPrimary } from './workers/primary';
import { runWorker } from './workers/worker';
import { checkCommand } from './cli/check-command';
import { printConfig } from './cli/config-check';
import { gcCommand } from './cli/gc-command';
import { insightCommand } from './cli/insight-command';
import type { CliIo } from './cli/io';
import { lsCommand } from './cli/ls-command';
import { eventsCommand } from './cli/events-command';
import { usageOf } from './cli/usage';
import { berthVersion } from './cli/version';

type Env = Record<string, string | undefined>;

async function configCheck(env: Env, command: Extract<Command, { name: 'config check' }>): Promise<void> {
  const loaded = await loadConfigWithSource({ file: command.config, env });
  await readMirrorCas(loaded.config.mirrors);
  const printed = printConfig(loaded, command.showSecrets);
  process.stdout.write(printed.stdout);
  process.stderr.write(printed.stderr);
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
  // A worker of a group takes its configuration from its primary, never from the command line.
  if (cluster.isWorker) return runWorker();
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // The message on one line, then the usage as written: one option per line.
    process.stderr.write(`${err.message.replace(/\s*\n\s*/g, ' ')}\n${usageOf(err.command)}\n`);
    process.exit(2);
  }
  if (command.name === 'help') {
    process.stdout.write(usageOf(command.topic) + '\n');
    return;
  }

  const io: CliIo = { env, out: (s) => process.stdout.write(s), err: process.stderr };
  try {
    if (command.name === 'version') return void process.stdout.write(`berth ${await berthVersion()}\n`);
    if (command.name === 'config check') return await configCheck(env, command);
    if (command.name === 'gc') return void (process.exitCode = await gcCommand(io, command));
    if (command.name === 'check') return void (process.exitCode = await checkCommand(io, command));
    if (command.name === 'ls') return void (process.exitCode = await lsCommand(io, command));
    if (command.name === 'events') return void (process.exitCode = await eventsCommand(io, command));
    if (command.name === 'healthcheck') return await healthcheck(env, command);
    if (command.name === 'insight') return void (process.exitCode = await insightCommand(io, command));
    const { config } = await loadConfigWithSource({ file: command.config, env });
    // The mirrors read them again; read here, before any worker is forked, a bad file stops start-up
    // with one message instead of one per worker.
    await readMirrorCas(config.mirrors);
    if (config.http.workers === 1) await serve(config, createLogger(config.log));
    else await runPrimary(config, createLogger(config.log));
  } catch (err) {
    failWith(err);
  }
}

if (require.main === module) void main(process.argv.slice(2), process.env);
