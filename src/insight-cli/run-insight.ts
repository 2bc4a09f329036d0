import type { ManifestReport } from '../insight/report/report-types';
import type { StorageView } from '../insight/storage-view';
import { formatReport, formatStorageView, hasSecrets } from './format-report';
import { parseImageName, type ImageName } from './image-name';
import type { Progress } from '../cli/progress';

export interface InsightOptions {
  /** An image, or undefined with `storage`. */
  image?: string;
  /** The registry-wide storage view instead of an image's report. */
  storage?: boolean;
  json: boolean;
  /** Seconds to wait while the report is pending. */
  waitSeconds: number;
  failOnSecrets: boolean;
}

/** One answer of a report source: what was asked for, or why not (`usage`: the command line's fault). */
export type Asked<T> = { ok: true; value: T } | { ok: false; message: string; usage?: boolean };

/** Where reports come from: a running registry's API (registry-source.ts) or a store (store-source.ts). */
export interface ReportSource {
  /** The image's report now, complete or pending; `waitMs` is how long the caller would still wait. */
  report(name: ImageName, waitMs: number): Promise<Asked<ManifestReport>>;
  storage(): Promise<Asked<StorageView>>;
}

/** Exit codes of `berth insight` (docs: README "Image insight"). */
export const INSIGHT_EXIT = { ok: 0, failed: 1, usage: 2, secrets: 3 } as const;

const POLL_MS = 1000;

const NO_PROGRESS: Progress = { update: () => undefined, done: () => undefined };

/**
 * Asks for the report, again while it is pending; prints it; resolves with the exit code.
 * `progress`: where to say what it waits for (a terminal's stderr).
 */
export async function runInsight(o: InsightOptions, source: ReportSource, out: (s: string) => void, err: (s: string) => void, progress: Progress = NO_PROGRESS): Promise<number> {
  try {
    return await (o.storage ? runStorageView(o, source, out, err) : runReport(o, source, out, err, progress));
  } finally {
    progress.done();
  }
}

async function runReport(o: InsightOptions, source: ReportSource, out: (s: string) => void, err: (s: string) => void, progress: Progress): Promise<number> {
  let name: ImageName;
  try {
    name = parseImageName(o.image ?? '');
  } catch (e) {
    err(`insight: ${(e as Error).message}\n`);
    return INSIGHT_EXIT.usage;
  }
  const deadline = Date.now() + o.waitSeconds * 1000;
  for (;;) {
    const asked = await source.report(name, Math.max(0, deadline - Date.now()));
    if (!asked.ok) return failed(asked, err);
    const report = asked.value;
    if (report.status !== 'pending' || Date.now() + POLL_MS > deadline) {
      progress.done();
      out(o.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      if (report.status === 'pending') {
        err(`insight: still pending after ${o.waitSeconds} s; ask again later\n`);
        return INSIGHT_EXIT.failed;
      }
      return o.failOnSecrets && hasSecrets(report) ? INSIGHT_EXIT.secrets : INSIGHT_EXIT.ok;
    }
    progress.update(() => `insight: waiting for the analysis of ${pendingCount(report)} layer(s)`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function runStorageView(o: InsightOptions, source: ReportSource, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const asked = await source.storage();
  if (!asked.ok) return failed(asked, err);
  out(o.json ? JSON.stringify(asked.value, null, 2) + '\n' : formatStorageView(asked.value));
  return INSIGHT_EXIT.ok;
}

function failed(asked: { message: string; usage?: boolean }, err: (s: string) => void): number {
  err(`insight: ${asked.message}\n`);
  return asked.usage ? INSIGHT_EXIT.usage : INSIGHT_EXIT.failed;
}

/** How many layers a pending report waits for, an index's children's included. */
function pendingCount(report: ManifestReport): number {
  if ('pending' in report) return report.pending.length;
  if (!('manifests' in report)) return 0;
  return report.manifests.reduce((n, child) => n + (child.report?.status === 'pending' ? child.report.pending.length : 0), 0);
}
