import type { ManifestReport } from '../insight/report/report-types';
import type { StorageView } from '../insight/storage-view';
import { formatReport, formatStorageView, hasSecrets } from './format-report';
import { parseImageName, type ImageName } from './image-name';

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

/** Asks for the report, again while it is pending; prints it; resolves with the exit code. */
export async function runInsight(o: InsightOptions, source: ReportSource, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (o.storage) return runStorageView(o, source, out, err);
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
      out(o.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      if (report.status === 'pending') {
        err(`insight: still pending after ${o.waitSeconds} s; ask again later\n`);
        return INSIGHT_EXIT.failed;
      }
      return o.failOnSecrets && hasSecrets(report) ? INSIGHT_EXIT.secrets : INSIGHT_EXIT.ok;
    }
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
