import { pseudoRandom } from '../blob-data';
import { closedLoop } from '../closed-loop';
import { HttpClient, expectStatus } from '../http-client';
import { CONFIG_BYTES, manifestBytes, OCI_MANIFEST, pushBytes } from '../oci';
import { cpuSeconds } from '../proc';
import { requestBytes, runRawLoad } from '../raw-client';
import { percentile } from '../stats';
import type { FigureContext } from '../types';

const PAGE = 100;

function tagName(i: number): string {
  return `tag-${String(i).padStart(5, '0')}`;
}

/** Latency and server CPU of one GET, repeated at concurrency 1 for a bounded time and count. */
async function timeGet(ctx: FigureContext, client: HttpClient, path: string, name: string, unitOps: string): Promise<void> {
  const { target, cfg } = ctx;
  const cpu0 = await cpuSeconds(target.pid);
  const r = await closedLoop(1, 500, cfg.rateMs, async () => {
    expectStatus(`GET ${path}`, await client.send('GET', path, { keepBody: 0 }), 200);
  });
  const cpu1 = await cpuSeconds(target.pid);
  ctx.emit({ name: `${name}-p50`, value: percentile(r.latencies, 50), unit: 'ms', better: 'lower' });
  ctx.emit({ name: `${name}-cpu`, value: ((cpu1 - cpu0) * 1000) / r.ops, unit: `ms/${unitOps}`, better: 'lower' });
}

function tagsIn(body: Buffer): string[] {
  const parsed = JSON.parse(body.toString('utf8')) as { tags?: string[] | null };
  return parsed.tags ?? [];
}

function nextLink(link: unknown): string | null {
  if (typeof link !== 'string') return null;
  return /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] ?? null;
}

/** A repository with `tagCount` tags: the whole list, one page of 100, and a walk over every page. */
export async function tagFigures(ctx: FigureContext): Promise<void> {
  const { target, cfg } = ctx;
  const repo = 'tags/app';
  const client = new HttpClient(target.base, 2);
  try {
    const config = await pushBytes(client, repo, CONFIG_BYTES);
    const layer = await pushBytes(client, repo, pseudoRandom(2048, 13));
    const body = manifestBytes(config, [layer]);
    const t0 = performance.now();
    const seed = await runRawLoad({
      host: '127.0.0.1',
      port: target.port,
      concurrency: 16,
      head: false,
      expectStatus: 201,
      warmupMs: 0,
      durationMs: 600_000,
      maxRequests: cfg.tagCount,
      request: (i) => requestBytes('PUT', `/v2/${repo}/manifests/${tagName(i)}`, target.host, { 'Content-Type': OCI_MANIFEST }, body),
    });
    if (seed.errors > 0 || seed.requests !== cfg.tagCount) throw new Error(`tagging: ${seed.requests} of ${cfg.tagCount} tags, ${seed.errors} errors: ${seed.firstError}`);
    ctx.note(`tagged ${cfg.tagCount} tags in ${((performance.now() - t0) / 1000).toFixed(1)} s at concurrency 16`);

    const whole = tagsIn(expectStatus('tags list', await client.send('GET', `/v2/${repo}/tags/list`, { keepBody: 64 << 20 }), 200).body);
    if (whole.length !== cfg.tagCount) throw new Error(`tags list returned ${whole.length} tags, expected ${cfg.tagCount}`);
    const N = cfg.tagCount;
    await timeGet(ctx, client, `/v2/${repo}/tags/list`, `tags-list-${N}`, 'list');

    const first = expectStatus('tags page', await client.send('GET', `/v2/${repo}/tags/list?n=${PAGE}`, { keepBody: 64 << 20 }), 200);
    const firstCount = tagsIn(first.body).length;
    ctx.emit({ name: `tags-page-n${PAGE}-returned`, value: firstCount, unit: 'tags', better: 'info' });
    if (firstCount !== PAGE) ctx.note(`GET tags/list?n=${PAGE} returned ${firstCount} tags, not ${PAGE}: this registry does not paginate`);
    await timeGet(ctx, client, `/v2/${repo}/tags/list?n=${PAGE}`, `tags-page-n${PAGE}`, 'page');

    // Walks the pages by their Link headers; bounded in pages and time in case a server loops.
    const maxPages = Math.ceil(N / PAGE) + 5;
    const walkStart = performance.now();
    let pages = 0;
    let seen = 0;
    let next: string | null = `/v2/${repo}/tags/list?n=${PAGE}`;
    while (next && pages < maxPages && performance.now() - walkStart < 120_000) {
      const reply = expectStatus('tags page walk', await client.send('GET', next, { keepBody: 64 << 20 }), 200);
      seen += tagsIn(reply.body).length;
      pages++;
      next = nextLink(reply.headers['link']);
    }
    // No ratio: a registry that ignores `n` (the reference) answers the walk in one request, so the
    // figure says what following every Link costs, not which registry lists faster.
    ctx.emit({ name: `tags-walk-n${PAGE}-${N}`, value: performance.now() - walkStart, unit: 'ms', better: 'info' });
    ctx.note(`page walk: ${pages} pages, ${seen} tags${seen !== N ? ` (expected ${N})` : ''}`);
  } finally {
    client.close();
  }
}
