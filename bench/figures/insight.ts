import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Cleanup } from '../cleanup';
import { expectStatus, HttpClient } from '../http-client';
import { baseLayers, benchImage, meanSize, type BenchImage, type ImageLayer, type Layers } from '../insight-layers';
import { manifestBytes, pullBlob, pushBytes, putManifest, sha256, startUpload, type Descriptor } from '../oci';
import { cpuSeconds } from '../proc';
import { freePort, startServer, type RunningServer } from '../servers';
import { MiB, mbPerSec, median } from '../stats';
import type { Figure, RegistryKind } from '../types';
import type { ModeContext } from './replica';

/** Berth's three insight settings the group compares (docs/architecture.md, "Image insight"). */
export const INSIGHT_MODES = ['off', 'warn', 'deny'] as const;
export type InsightMode = (typeof INSIGHT_MODES)[number];
export const INSIGHT_PREFIX = 'insight-';

/** Uncompressed bytes of each base layer's tar: about 5.6 MiB of gzip each, some 200 files. */
const TAR_BYTES = 9 * MiB;
const SINGLE_PUSHES = 3;
const CONCURRENT_CLIENTS = 8;
const PULL_BATCH = 4;
const PULL_CLIENTS = 4;

function modeEnv(mode: InsightMode, debugAddr: string): Record<string, string> {
  const metrics = { REGISTRY_HTTP_DEBUG_ADDR: debugAddr };
  if (mode === 'off') return { ...metrics, REGISTRY_INSIGHT_ENABLED: 'false' };
  if (mode === 'warn') return metrics;
  // Every repository refuses an image with secrets: each manifest PUT waits for its layers' analyses.
  return { ...metrics, REGISTRY_INSIGHT_REPOSITORIES: JSON.stringify({ '**': { secrets: 'deny' } }) };
}

/** What Berth's /metrics says about the analyser (0 where a metric is absent: insight off). */
interface InsightMetrics {
  layers: number;
  bytes: number;
  seconds: number;
}

async function readMetrics(url: string | null): Promise<InsightMetrics> {
  if (url === null) return { layers: 0, bytes: 0, seconds: 0 };
  const text = await (await fetch(url)).text();
  const sum = (re: RegExp) => {
    let total = 0;
    for (const m of text.matchAll(re)) total += Number(m[1]);
    return total;
  };
  return {
    layers: sum(/^berth_insight_layers_analysed_total(?:\{[^}]*\})? (\S+)$/gm),
    bytes: sum(/^berth_insight_bytes_analysed_total(?:\{[^}]*\})? (\S+)$/gm),
    seconds: sum(/^berth_insight_analysis_seconds_sum(?:\{[^}]*\})? (\S+)$/gm),
  };
}

/** Polls until the analyser has written `layers` records, or `timeoutMs` passed; returns the wait. */
async function drain(url: string | null, layers: number, timeoutMs = 300_000): Promise<number> {
  const t0 = performance.now();
  if (url === null) return 0;
  while ((await readMetrics(url)).layers < layers) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`analysis backlog not drained after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

async function pushLayer(client: HttpClient, repo: string, layer: ImageLayer): Promise<Descriptor> {
  const loc = client.url(await startUpload(client, repo));
  loc.searchParams.set('digest', layer.digest);
  const headers = { 'content-type': 'application/octet-stream', 'content-length': layer.size };
  expectStatus(`PUT ${repo} layer`, await client.send('PUT', loc.pathname + loc.search, { headers, write: (req) => layer.writeTo(req) }), 201);
  return { digest: layer.digest, size: layer.size };
}

async function pushLayers(client: HttpClient, repo: string, image: BenchImage): Promise<Descriptor[]> {
  const done: Descriptor[] = [];
  for (const layer of image.layers) done.push(await pushLayer(client, repo, layer));
  return done;
}

async function pushManifest(client: HttpClient, repo: string, image: BenchImage, layers: Descriptor[]): Promise<void> {
  const config = await pushBytes(client, repo, image.config, sha256(image.config));
  await putManifest(client, repo, 'v1', manifestBytes(config, layers));
}

/** The whole image as a client pushes it: layers one after another, the config, then the manifest. */
async function pushImage(client: HttpClient, repo: string, image: BenchImage): Promise<void> {
  await pushManifest(client, repo, image, await pushLayers(client, repo, image));
}

/** Blobs a pushed image adds to the analyser's work: its layers and its config. */
const blobsOf = (image: BenchImage) => image.layers.length + 1;

interface ModeRun {
  server: RunningServer;
  metricsUrl: string | null;
  layers: Layers;
}

/** The figures of one server (one Berth mode, or Distribution), named without the mode. */
async function modeFigures(ctx: ModeContext, run: ModeRun, emit: (f: Figure) => void, note: (line: string) => void): Promise<void> {
  const { server, metricsUrl, layers } = run;
  const client = new HttpClient(server.target.base, CONCURRENT_CLIENTS + PULL_CLIENTS);
  let expected = 0;
  const m0 = await readMetrics(metricsUrl);
  try {
    // The image pulled while others are analysed; its own analysis is over before anything is timed.
    const seed = await benchImage(layers, 'seed');
    await pushImage(client, 'insight/seed', seed);
    expected += blobsOf(seed);
    await drain(metricsUrl, expected);

    // One image at a time, each from an idle analyser: start to the manifest's 201.
    const singles: number[] = [];
    for (let i = 0; i < SINGLE_PUSHES; i++) {
      const image = await benchImage(layers, `single${i}`);
      const t0 = performance.now();
      await pushImage(client, `insight/single${i}`, image);
      singles.push(performance.now() - t0);
      expected += blobsOf(image);
      const waited = await drain(metricsUrl, expected);
      if (metricsUrl) note(`single push ${i}: ${singles[i].toFixed(0)} ms, analysis done ${waited.toFixed(0)} ms after the 201`);
    }
    const size = `${seed.layers.length}x${meanSize(seed).toFixed(1)}MiB`;
    emit({ name: `push-1x${size}`, value: median(singles), unit: 'ms', better: 'lower' });

    // N clients at once, each its own image.
    const many = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, (_, c) => benchImage(layers, `client${c}`)));
    const cpu0 = await cpuSeconds(server.target.pid);
    const t0 = performance.now();
    await Promise.all(many.map((image, c) => pushImage(client, `insight/client${c}`, image)));
    const wall = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(server.target.pid)) - cpu0;
    emit({ name: `push-${CONCURRENT_CLIENTS}x${size}-wall`, value: wall, unit: 's', better: 'lower' });
    expected += many.reduce((n, image) => n + blobsOf(image), 0);
    const waited = await drain(metricsUrl, expected);
    note(`${CONCURRENT_CLIENTS} concurrent pushes: ${wall.toFixed(2)} s, server CPU ${cpu.toFixed(2)} s${metricsUrl ? `; analysis done ${(waited / 1000).toFixed(2)} s after the last 201` : ''}`);

    // Pulls of the seeded image while a batch of pushed layers is analysed: the batch's layers are
    // uploaded (manifests not yet, so that deny's wait does not drain the backlog first), then
    // PULL_CLIENTS clients pull the seed's layers in turn for the window.
    const batch = await Promise.all(Array.from({ length: PULL_BATCH }, (_, b) => benchImage(layers, `batch${b}`)));
    const batchLayers = await Promise.all(batch.map((image, b) => pushLayers(client, `insight/batch${b}`, image)));
    const before = await readMetrics(metricsUrl);
    const stopAt = performance.now() + ctx.cfg.rateMs;
    let bytes = 0;
    const tp = performance.now();
    await Promise.all(
      Array.from({ length: PULL_CLIENTS }, async (_, c) => {
        for (let i = c; performance.now() < stopAt; i++) bytes += await pullBlob(client, 'insight/seed', seed.layers[i % seed.layers.length].digest);
      }),
    );
    const pullMs = performance.now() - tp;
    const after = await readMetrics(metricsUrl);
    emit({ name: `pull-c${PULL_CLIENTS}-during-analysis`, value: mbPerSec(bytes, pullMs), unit: 'MB/s', better: 'higher' });
    if (metricsUrl) note(`during the pulls the analyser read ${((after.bytes - before.bytes) / MiB).toFixed(0)} MiB of the batch's ${((batch.length * batch[0].layers.length * meanSize(batch[0])) | 0)} MiB (${after.layers - before.layers} blobs)`);
    await Promise.all(batch.map((image, b) => pushManifest(client, `insight/batch${b}`, image, batchLayers[b])));
    expected += batch.reduce((n, image) => n + blobsOf(image), 0);
    await drain(metricsUrl, expected);

    if (metricsUrl) {
      // Every analysis of this server: compressed bytes over the analyser's own time (it shares the
      // one CPU with the uploads and pulls, so this is below what a quiet core does: see analysis-quiet).
      const end = await readMetrics(metricsUrl);
      const mb = (end.bytes - m0.bytes) / 1e6;
      emit({ name: 'analysis-busy-MBps', value: mb / (end.seconds - m0.seconds), unit: 'MB/s', better: 'info' });
    }
  } finally {
    client.close();
  }
}

/**
 * The analyser alone on its core: a Berth with insight on starts on the store a Berth with insight
 * off filled, its report API queues every image's layers, and the analyser reads them with nothing
 * else running. MB/s of compressed layer per wall second and per CPU second of the server.
 */
async function quietAnalysis(ctx: ModeContext, storageRoot: string, repoRoot: string, cleanup: Cleanup, repos: string[], blobs: number, emit: (f: Figure) => void, note: (line: string) => void): Promise<void> {
  const debugAddr = `127.0.0.1:${await freePort()}`;
  const server = await startServer('berth', repoRoot, cleanup, { cpuProfDir: ctx.cfg.cpuProfDir, shared: false, notifications: '', storageRoot, env: modeEnv('warn', debugAddr) });
  const url = `http://${debugAddr}/metrics`;
  const client = new HttpClient(server.target.base, 4);
  try {
    const cpu0 = await cpuSeconds(server.target.pid);
    const t0 = performance.now();
    for (const repo of repos) expectStatus(`GET ${repo} insight`, await client.send('GET', `/v2/${repo}/_berth/insight/v1`), 202);
    await drain(url, blobs);
    const wall = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(server.target.pid)) - cpu0;
    const m = await readMetrics(url);
    emit({ name: 'analysis-quiet-MBps', value: m.bytes / 1e6 / wall, unit: 'MB/s', better: 'info' });
    emit({ name: 'analysis-quiet-MBps-per-cpu-s', value: m.bytes / 1e6 / cpu, unit: 'MB/s', better: 'info' });
    emit({ name: 'analysis-quiet-metrics-MBps', value: m.bytes / 1e6 / m.seconds, unit: 'MB/s', better: 'info' });
    note(`quiet analysis: ${m.layers} blobs, ${(m.bytes / MiB).toFixed(0)} MiB compressed in ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s server CPU (berth_insight_analysis_seconds sum ${m.seconds.toFixed(2)} s)`);
  } finally {
    client.close();
    await server.stop();
  }
}

export interface InsightRun {
  kind: RegistryKind;
  repoRoot: string;
  cleanup: Cleanup;
}

/**
 * The `insight` group: pushes and pulls of real layers against Berth with insight off, on (`warn`) and
 * on with `deny` everywhere (no findings), and against Distribution, each on a fresh store, pinned as
 * the other groups; then the analyser's throughput alone on its core. Figures are `insight-<mode>-*`;
 * Distribution's, measured once, are given under each mode's name so that the ratio table compares
 * every mode with it.
 */
export async function insightFigures(ctx: ModeContext, run: InsightRun): Promise<void> {
  const { kind, repoRoot, cleanup } = run;
  const layers = await baseLayers(TAR_BYTES);
  const modes: Array<InsightMode | 'reference'> = kind === 'reference' ? ['reference'] : [...INSIGHT_MODES];
  for (const mode of modes) {
    const debugAddr = `127.0.0.1:${await freePort()}`;
    const storageRoot = mode === 'off' ? await mkdtemp(path.join(os.tmpdir(), 'berth-bench-insight-')) : undefined;
    if (storageRoot) cleanup.addDir(storageRoot);
    const env = mode === 'reference' ? undefined : modeEnv(mode, debugAddr);
    const server = await startServer(kind, repoRoot, cleanup, { cpuProfDir: ctx.cfg.cpuProfDir, shared: false, notifications: '', storageRoot, env });
    const names = mode === 'reference' ? INSIGHT_MODES : [mode];
    const emit = (f: Figure) => {
      for (const m of names) ctx.emit({ ...f, name: `${INSIGHT_PREFIX}${m}-${f.name}` });
    };
    const note = (line: string) => ctx.note(`${INSIGHT_PREFIX}${mode}: ${line}`);
    try {
      const metricsUrl = mode === 'reference' || mode === 'off' ? null : `http://${debugAddr}/metrics`;
      await modeFigures(ctx, { server, metricsUrl, layers }, emit, note);
    } finally {
      await server.stop();
    }
    if (storageRoot) {
      const repos = ['insight/seed', ...Array.from({ length: SINGLE_PUSHES }, (_, i) => `insight/single${i}`), ...Array.from({ length: CONCURRENT_CLIENTS }, (_, c) => `insight/client${c}`)];
      // The report queues the layers (configs are not layers: the API does not ask for theirs).
      const blobs = repos.length * layers.bases.length;
      await quietAnalysis(ctx, storageRoot, repoRoot, cleanup, repos, blobs, (f) => ctx.emit({ ...f, name: `${INSIGHT_PREFIX}${f.name}` }), (line) => ctx.note(`${INSIGHT_PREFIX}${line}`));
      cleanup.removeDir(storageRoot);
    }
  }
}
