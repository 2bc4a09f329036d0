import type { Command } from '../command-line';
import { checkStore, type CheckProgress } from '../check/check-store';
import { formatReport } from '../check/findings';
import { loadConfigWithSource } from '../config/load';
import { humanBytes } from '../insight-cli/format-report';
import { configuredMirrors } from '../mirror/mirrors';
import { mirrorOf } from '../mirror/routing';
import { forgetEverything } from '../redis/offline-invalidation';
import { createStorageDriver } from '../storage';
import type { CliIo } from './io';
import { progressOn } from './progress';

function progressLine(p: CheckProgress): string {
  const verified = p.blobsVerified > 0 ? `, ${p.blobsVerified} blobs verified (${humanBytes(p.bytesVerified)})` : '';
  return `check: ${p.repositoriesChecked}/${p.repositories} repositories${verified}`;
}

/**
 * `berth check`: reports the store's inconsistencies (and with --repair fixes the safe ones);
 * returns 0 when clean, 1 when findings remain.
 */
export async function checkCommand(io: CliIo, command: Extract<Command, { name: 'check' }>): Promise<number> {
  const { config } = await loadConfigWithSource({ file: command.config, env: io.env });
  const mirrors = configuredMirrors(config);
  const progress = progressOn(io.err);
  let report;
  try {
    report = await checkStore(await createStorageDriver(config), {
      repair: command.repair,
      verifyDigests: command.verifyDigests,
      isMirrored: (name) => mirrorOf(name, mirrors) !== undefined,
      onProgress: (p) => progress.update(() => progressLine(p)),
    });
  } finally {
    progress.done();
  }
  io.out(command.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  let code = report.remaining > 0 ? 1 : 0;
  // A repair removes links behind the replicas' backs, as `berth gc` deletes: what they cached in
  // Redis goes too (or the operator is told how).
  if (config.redis && report.findings.some((f) => f.repaired === true)) {
    try {
      await forgetEverything(config.redis);
    } catch (err) {
      io.err.write(`check: ${(err as Error).message}\n`);
      code = 1;
    }
  }
  return code;
}
