import type { ManifestReport } from '../insight/report/report-types';
import type { StorageView } from '../insight/storage-view';
import { formatReport, formatStorageView, hasSecrets } from './format-report';
import { parseImageName, registryUrl } from './image-name';
import { RegistryFetch, type Credentials } from './registry-fetch';

export interface InsightOptions {
  /** An image, or undefined with `storage`. */
  image?: string;
  /** The registry-wide storage view instead of an image's report. */
  storage?: boolean;
  json: boolean;
  registry?: string;
  credentials?: Credentials;
  /** Seconds to wait while the report is pending. */
  waitSeconds: number;
  failOnSecrets: boolean;
}

/** Exit codes of `berth insight` (docs: README "Image insight"). */
export const INSIGHT_EXIT = { ok: 0, failed: 1, usage: 2, secrets: 3 } as const;

const POLL_MS = 1000;

/** Fetches the report, waiting while it is pending; prints it; resolves with the exit code. */
export async function runInsight(o: InsightOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (o.storage) return runStorageView(o, out, err);
  let url: string;
  try {
    const name = parseImageName(o.image ?? '');
    url = `${registryUrl(name, o.registry)}/v2/${name.repository}/_berth/insight/${name.reference}`;
  } catch (e) {
    err(`insight: ${(e as Error).message}\n`);
    return INSIGHT_EXIT.usage;
  }
  const client = new RegistryFetch(o.credentials);
  const deadline = Date.now() + o.waitSeconds * 1000;
  for (;;) {
    let res: Response;
    try {
      res = await client.get(url);
    } catch (e) {
      err(`insight: ${url}: ${(e as Error).message}\n`);
      return INSIGHT_EXIT.failed;
    }
    const text = await res.text();
    if (res.status !== 200 && res.status !== 202) {
      const hint = res.status === 401 && o.credentials === undefined ? ' (pass --user and --password)' : '';
      err(`insight: ${url}: ${res.status} ${errorMessage(text)}${hint}\n`);
      return INSIGHT_EXIT.failed;
    }
    const report = JSON.parse(text) as ManifestReport;
    if (res.status === 200 || Date.now() + POLL_MS > deadline) {
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

async function runStorageView(o: InsightOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (o.registry === undefined) {
    err('insight: --storage needs --registry URL\n');
    return INSIGHT_EXIT.usage;
  }
  const url = `${o.registry.replace(/\/+$/, '')}/v2/_berth/insight/storage`;
  let res: Response;
  try {
    res = await new RegistryFetch(o.credentials).get(url);
  } catch (e) {
    err(`insight: ${url}: ${(e as Error).message}\n`);
    return INSIGHT_EXIT.failed;
  }
  const text = await res.text();
  if (res.status !== 200) {
    err(`insight: ${url}: ${res.status} ${errorMessage(text)}\n`);
    return INSIGHT_EXIT.failed;
  }
  out(o.json ? JSON.stringify(JSON.parse(text), null, 2) + '\n' : formatStorageView(JSON.parse(text) as StorageView));
  return INSIGHT_EXIT.ok;
}

function errorMessage(body: string): string {
  try {
    const e = (JSON.parse(body) as { errors?: Array<{ code: string; message: string }> }).errors?.[0];
    return e ? `${e.code}: ${e.message}` : body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}
