import assert from 'node:assert/strict';
import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest } from '../../src/oci/digest';
import { listNames } from '../../src/oci/links';
import { paths } from '../../src/oci/paths';
import { readLayerRecord, type LayerRecord } from '../../src/insight/layer-records';

export const AWS_KEY_ID = 'AKIA' + 'IOSFODNN7EXAMPLE';

/** Polls storage for the blob's record; fails after `timeoutMs`. */
export async function waitForRecord(driver: StorageDriver, digest: string, timeoutMs = 10_000): Promise<LayerRecord> {
  const d = parseDigest(digest);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await readLayerRecord(driver, d);
    if (record !== null) return record;
    assert.ok(Date.now() < deadline, `no record for ${digest} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls until `check` holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The queue's markers and the claims' directories left in storage. */
export async function queueLeftovers(driver: StorageDriver): Promise<{ jobs: string[]; claims: string[] }> {
  return { jobs: await listNames(driver, paths.insightQueue), claims: await listNames(driver, '/berth/insight/claims') };
}

/** Whether no job is queued and no claim held: every analysis started has ended, marker and claim gone. */
export async function queueEmpty(driver: StorageDriver): Promise<boolean> {
  const { jobs, claims } = await queueLeftovers(driver);
  return jobs.length === 0 && claims.length === 0;
}

/** The value of one series of a metrics text (0 when absent). */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
