import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Command } from '../command-line';
import { loadConfigWithSource } from '../config/load';
import { gcDeletionRecorder } from '../events/gc-events';
import { mirrorEviction } from '../mirror/eviction';
import { configuredMirrors } from '../mirror/mirrors';
import { GarbageCollector, type GcProgress, type GcReport } from '../oci/gc';
import { GcLease } from '../oci/gc-lease';
import { Listing } from '../oci/listing';
import { forgetEverything } from '../redis/offline-invalidation';
import { createStorageDriver } from '../storage';
import { humanBytes } from '../insight-cli/format-report';
import { formatGcSummary } from './gc-summary';
import type { CliIo } from './io';
import { progressOn } from './progress';

function progressLine(p: GcProgress): string {
  if (p.phase === 'mark') return `gc: marking: ${p.repositoriesMarked}/${p.repositories} repositories, ${p.blobsMarked} blobs in use`;
  if (p.phase === 'walk') return `gc: ${p.blobsMarked} blobs in use; walked ${p.blobsWalked} blobs (${humanBytes(p.bytesWalked)})`;
  return `gc: sweeping: ${p.deleted} deleted`;
}

/**
 * `berth gc`: one online collection of the configured store; prints a summary (the report as JSON
 * with --json) and returns the exit code. What it deletes goes to the notification journal first,
 * for a running Berth on the same store to deliver.
 */
export async function gcCommand(io: CliIo, command: Extract<Command, { name: 'gc' }>): Promise<number> {
  const { config } = await loadConfigWithSource({ file: command.config, env: io.env });
  const driver = await createStorageDriver(config);
  const onDeleting = gcDeletionRecorder(config.notifications, { driver, source: { addr: hostname(), instanceID: randomUUID() } });
  const progress = progressOn(io.err);
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
      onProgress: (p) => progress.update(() => progressLine(p)),
    });
  } finally {
    progress.done();
    await lease.release();
  }
  io.out(command.json ? JSON.stringify(report, null, 2) + '\n' : formatGcSummary(report, { graceMs: command.grace, deleteUntagged: command.deleteUntagged }));
  // Running replicas cached facts about what it deleted in Redis: drop them, as the scheduled
  // collector does. The deletions stand either way, so a Redis that does not confirm is an error
  // (exit 1) that says what the operator can do, after the report of what was deleted.
  if (config.redis && !report.dryRun && report.blobs.length + report.manifests.length > 0) {
    try {
      await forgetEverything(config.redis);
    } catch (err) {
      io.err.write(`gc: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return 0;
}
