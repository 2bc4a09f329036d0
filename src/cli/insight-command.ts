import pino from 'pino';
import type { Command } from '../command-line';
import { loadConfigWithSource } from '../config/load';
import { humanBytes } from '../insight-cli/format-report';
import { RegistrySource } from '../insight-cli/registry-source';
import { runInsight } from '../insight-cli/run-insight';
import { StoreSource } from '../insight-cli/store-source';
import type { StorageViewProgress } from '../insight/storage-view';
import { createLogger } from '../logger';
import { createStorageDriver } from '../storage';
import type { CliIo } from './io';
import { progressOn } from './progress';

function storageProgressLine(p: StorageViewProgress): string {
  return p.repositories === 0
    ? `insight: walked ${p.blobsWalked} blobs (${humanBytes(p.bytesWalked)})`
    : `insight: ${p.blobsWalked} blobs (${humanBytes(p.bytesWalked)}); ${p.repositoriesMarked}/${p.repositories} repositories`;
}

/**
 * `berth insight IMAGE`: an image's report from a running registry, or with --store from the
 * configured store itself, waiting while it is pending. Returns 0 with a report, 1 when none came
 * (an error, or still pending after --wait), 2 on a usage error, 3 with --fail-on-secrets when the
 * report lists secrets.
 */
export async function insightCommand(io: CliIo, command: Extract<Command, { name: 'insight' }>): Promise<number> {
  const options = { image: command.image, storage: command.storage, json: command.json, waitSeconds: command.wait, failOnSecrets: command.failOnSecrets };
  const err = (s: string) => io.err.write(s);
  const progress = progressOn(io.err);
  if (!command.store) {
    const credentials = command.user !== undefined ? { user: command.user, password: command.password ?? '' } : undefined;
    return runInsight(options, new RegistrySource(command.registry, credentials), io.out, err, progress);
  }
  const { config } = await loadConfigWithSource({ file: command.config, env: io.env });
  // On standard error, warnings only: standard output is the report (JSON with --json).
  const logger = createLogger({ ...config.log, level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const source = new StoreSource(await createStorageDriver(config), config, logger, (p) => progress.update(() => storageProgressLine(p)));
  try {
    return await runInsight(options, source, io.out, err, progress);
  } finally {
    await source.close();
  }
}
