import { pseudoRandom } from '../blob-data';
import { closedLoop } from '../closed-loop';
import { HttpClient } from '../http-client';
import { measureRate } from '../measure-rate';
import { CONFIG_BYTES, manifestBytes, OCI_MANIFEST, pushBytes } from '../oci';
import { cpuSeconds } from '../proc';
import { requestBytes } from '../raw-client';
import { percentile, sizeLabel } from '../stats';
import type { FigureContext } from '../types';

const SMALL_CONCURRENCY = 16;

/** Small-blob uploads (POST + PUT) at concurrency 16. */
async function smallUploads(ctx: FigureContext): Promise<void> {
  const { target, cfg } = ctx;
  const client = new HttpClient(target.base, SMALL_CONCURRENCY);
  try {
    const name = `upload-small-${sizeLabel(cfg.smallBlob)}-c${SMALL_CONCURRENCY}`;
    let seed = 1_000_000;
    const upload = async () => void (await pushBytes(client, 'small/blobs', pseudoRandom(cfg.smallBlob, seed++)));
    await closedLoop(SMALL_CONCURRENCY, 100_000, cfg.warmupMs, upload);
    const cpu0 = await cpuSeconds(target.pid);
    const r = await closedLoop(SMALL_CONCURRENCY, 1_000_000, cfg.rateMs, upload);
    const cpu1 = await cpuSeconds(target.pid);
    ctx.emit({ name: `${name}-rate`, value: r.ops / (r.ms / 1000), unit: 'uploads/s', better: 'higher' });
    ctx.emit({ name: `${name}-p50`, value: percentile(r.latencies, 50), unit: 'ms', better: 'lower' });
    ctx.emit({ name: `${name}-p99`, value: percentile(r.latencies, 99), unit: 'ms', better: 'lower' });
    ctx.emit({ name: `${name}-cpu`, value: ((cpu1 - cpu0) * 1e6) / r.ops, unit: 'us/upload', better: 'lower' });
  } finally {
    client.close();
  }
}

/** Manifest PUTs, each a new manifest under a new tag, at concurrency 1 and 16. */
export async function manifestPuts(ctx: FigureContext): Promise<void> {
  const repo = 'writes/app';
  const client = new HttpClient(ctx.target.base, 2);
  const config = await pushBytes(client, repo, CONFIG_BYTES);
  const layer = await pushBytes(client, repo, pseudoRandom(2048, 11));
  client.close();
  let serial = 0;
  const request = () => {
    const n = serial++;
    const body = manifestBytes(config, [layer], String(n));
    return requestBytes('PUT', `/v2/${repo}/manifests/t${n}`, ctx.target.host, { 'Content-Type': OCI_MANIFEST }, body);
  };
  for (const c of [1, 16]) await measureRate(ctx, `manifest-put-c${c}`, { concurrency: c, head: false, expectStatus: 201, request });
}

export async function writeFigures(ctx: FigureContext): Promise<void> {
  await smallUploads(ctx);
  await manifestPuts(ctx);
}
