import type { BlobCache } from '../blob-data';
import { HttpClient } from '../http-client';
import { pullBlob, pushChunked, pushMonolithic, pushStreamed } from '../oci';
import { cpuSeconds, rssGrowth } from '../proc';
import { MiB, mbPerSec, sizeLabel } from '../stats';
import type { FigureContext } from '../types';
import { warmUpLargeBlobs } from '../warm-up';

/** Times `work` and notes how busy the load generator and the server were meanwhile. */
export async function timedWork(ctx: FigureContext, label: string, work: () => Promise<unknown>): Promise<number> {
  const cpu0 = process.cpuUsage();
  const server0 = await cpuSeconds(ctx.target.pid);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  const server = (await cpuSeconds(ctx.target.pid)) - server0;
  const gen = process.cpuUsage(cpu0);
  ctx.note(`${label}: ${(ms / 1000).toFixed(2)} s, load generator CPU ${((gen.user + gen.system) / 10 / ms).toFixed(0)}%, server CPU ${((server * 1e5) / ms).toFixed(0)}%`);
  return ms;
}

/** Monolithic, chunked and streamed pushes; pulls with 1 and 8 clients; RSS growth of the server. */
export async function largeBlobFigures(ctx: FigureContext, blobs: BlobCache): Promise<void> {
  const { target, cfg, emit } = ctx;
  const timed = (label: string, work: () => Promise<unknown>) => timedWork(ctx, label, work);
  const client = new HttpClient(target.base, 8);
  try {
    const medium = blobs.get('mono-medium', cfg.mediumBlob);
    const large = blobs.get('mono-large', cfg.largeBlob);
    const chunked = blobs.get('chunked-large', cfg.largeBlob);
    const streamed = blobs.get('streamed-large', cfg.largeBlob);
    const L = sizeLabel(cfg.largeBlob);
    await warmUpLargeBlobs(client, blobs);

    let ms = await timed('push mono medium', () => pushMonolithic(client, 'large/mono', medium));
    emit({ name: `push-mono-${sizeLabel(cfg.mediumBlob)}`, value: mbPerSec(medium.size, ms), unit: 'MB/s', better: 'higher' });

    const push = await rssGrowth(target.pid, () => timed('push mono large', () => pushMonolithic(client, 'large/mono', large)));
    emit({ name: `push-mono-${L}`, value: mbPerSec(large.size, push.result), unit: 'MB/s', better: 'higher' });
    emit({ name: `rss-growth-push-${L}`, value: push.growth / MiB, unit: 'MiB', better: 'lower' });

    ms = await timed('push chunked', () => pushChunked(client, 'large/chunked', chunked, cfg.chunkSize));
    emit({ name: `push-chunked-${L}-by-${sizeLabel(cfg.chunkSize)}`, value: mbPerSec(chunked.size, ms), unit: 'MB/s', better: 'higher' });

    ms = await timed('push streamed', () => pushStreamed(client, 'large/streamed', streamed));
    emit({ name: `push-streamed-${L}`, value: mbPerSec(streamed.size, ms), unit: 'MB/s', better: 'higher' });

    const pulls = await rssGrowth(target.pid, async () => {
      const one = await timed('pull c1', async () => {
        const n = await pullBlob(client, 'large/mono', large.digest);
        if (n !== large.size) throw new Error(`pull returned ${n} bytes, expected ${large.size}`);
      });
      const eight = await timed('pull c8', async () => {
        const sizes = await Promise.all(Array.from({ length: 8 }, () => pullBlob(client, 'large/mono', large.digest)));
        if (sizes.some((n) => n !== large.size)) throw new Error(`a pull returned ${sizes.join(',')} bytes, expected ${large.size}`);
      });
      return { one, eight };
    });
    emit({ name: `pull-${L}-c1`, value: mbPerSec(large.size, pulls.result.one), unit: 'MB/s', better: 'higher' });
    emit({ name: `pull-${L}-c8`, value: mbPerSec(8 * large.size, pulls.result.eight), unit: 'MB/s', better: 'higher' });
    emit({ name: `rss-growth-pull-${L}`, value: pulls.growth / MiB, unit: 'MiB', better: 'lower' });
  } finally {
    client.close();
  }
}
