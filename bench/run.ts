/**
 * `npm run bench`: Berth and CNCF Distribution 2.8 side by side, in one run, on this machine.
 * See bench/README.md for the figures and how to read the ratios.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, USAGE, UsageError } from './args';
import { BlobCache } from './blob-data';
import { Cleanup } from './cleanup';
import { ceilingFigures } from './figures/ceilings';
import { concurrentPushFigures } from './figures/concurrent-push';
import { INSIGHT_MODES, INSIGHT_PREFIX, insightFigures } from './figures/insight';
import { largeBlobFigures } from './figures/large-blobs';
import { mirrorFigures, startUpstream, type Upstream } from './figures/mirror';
import { ALLCORE_PREFIX, REPLICA_PREFIX, replicaModeFigures } from './figures/replica';
import { requestRateFigures } from './figures/request-rates';
import { s3Figures, startS3Backend, type S3Backend } from './figures/s3';
import { tagFigures } from './figures/tags';
import { writeFigures } from './figures/writes';
import { notificationsYaml, startNotificationSink, type NotificationSink } from './notification-sink';
import { figureLine, insightModeTable, modeTable, ratioTable, type Mode, type RoundResults } from './report';
import { ensureReference, LOADGEN_CPU, pinSelf, REFERENCE_BIN, SERVER_CPU, startServer } from './servers';
import type { BenchConfig, Figure, FigureContext, RegistryKind } from './types';

type Group = { name: string; run: (ctx: FigureContext, blobs: BlobCache) => Promise<void> };

const GROUPS: Group[] = [
  { name: 'large', run: (ctx, blobs) => largeBlobFigures(ctx, blobs) },
  { name: 'rates', run: (ctx) => requestRateFigures(ctx) },
  { name: 'writes', run: (ctx) => writeFigures(ctx) },
  { name: 'tags', run: (ctx) => tagFigures(ctx) },
  { name: 'push32', run: (ctx, blobs) => concurrentPushFigures(ctx, blobs) },
];

const out = (line: string) => process.stdout.write(line + '\n');

/** The columns of the modes table; the prefixes are the figure names' (figures/replica.ts). */
const MODES: Mode[] = [
  { label: 'replica, 1 core', prefix: REPLICA_PREFIX },
  { label: 'cached, single process', prefix: '' },
  { label: 'all cores', prefix: ALLCORE_PREFIX },
];

function selected(cfg: BenchConfig, name: string): boolean {
  return cfg.only === null || cfg.only.some((w) => name.includes(w));
}

function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  let reference = '?';
  try {
    reference = execFileSync(REFERENCE_BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as '?' */
  }
  return `${new Date().toISOString()} · ${cpu} · ${os.cpus().length} CPUs · ${Math.round(os.totalmem() / 2 ** 30)} GiB · Linux ${os.release()} · node ${process.version} · ${reference}`;
}

function reportError(group: string, kind: RegistryKind, err: unknown): void {
  out(`# ERROR in ${group} on ${kind}: ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 500)}`);
}

async function runRegistry(kind: RegistryKind, cfg: BenchConfig, repoRoot: string, cleanup: Cleanup, blobs: BlobCache, sink: NotificationSink | null, upstream: Upstream | null, s3: S3Backend | null): Promise<Map<string, Figure>> {
  const figures = new Map<string, Figure>();
  const notifications = sink ? notificationsYaml(sink.url) : '';
  const emit = (f: Figure) => {
    figures.set(f.name, f);
    out(figureLine(f));
  };
  const note = (line: string) => out(`# ${line}`);
  const groups = GROUPS.filter((g) => selected(cfg, g.name));
  if (groups.length > 0) {
    const env = cfg.insightOff ? { REGISTRY_INSIGHT_ENABLED: 'false' } : undefined;
    const server = await startServer(kind, repoRoot, cleanup, { cpuProfDir: cfg.cpuProfDir, shared: cfg.shared, notifications, env });
    try {
      const ctx: FigureContext = { target: server.target, cfg, emit, note };
      for (const group of groups) await group.run(ctx, blobs).catch((err: unknown) => reportError(group.name, kind, err));
    } finally {
      await server.stop();
    }
  }
  // Replica mode and all cores: servers of their own on one store, seeded with the working set.
  const replica = selected(cfg, 'replica');
  const allcore = selected(cfg, 'allcore');
  if (replica || allcore) {
    await replicaModeFigures({ cfg, emit, note }, { kind, repoRoot, cleanup, blobs, notifications, replica, allcore }).catch((err: unknown) => reportError('replica', kind, err));
  }
  // Image insight: Berth in each insight mode, each a server of its own on a fresh store.
  if (selected(cfg, 'insight')) await insightFigures({ cfg, emit, note }, { kind, repoRoot, cleanup }).catch((err: unknown) => reportError('insight', kind, err));
  // On S3 each registry is a server of its own, on a fresh bucket of the round's RGW.
  if (s3) await s3Figures({ cfg, emit, note }, kind, s3, repoRoot, cleanup, blobs).catch((err: unknown) => reportError('s3', kind, err));
  if (upstream) {
    // The mirror is a server of its own (fresh storage, proxy mode); the target is the upstream's.
    const ctx: FigureContext = { target: upstream.server.target, cfg, emit, note };
    await mirrorFigures(ctx, kind, upstream, repoRoot, cleanup).catch((err: unknown) => reportError('mirror', kind, err));
  }
  if (sink) {
    // After the stop: Berth's deliverer may still be sending its last batch while the figures end.
    const got = sink.take();
    out(`# ${kind} delivered ${got.events} events in ${got.envelopes} envelopes`);
  }
  return figures;
}

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2));
  const cleanup = new Cleanup();
  cleanup.install();
  const repoRoot = path.resolve(__dirname, '..', '..');
  if (!existsSync(path.join(repoRoot, 'dist/src/main.js'))) throw new Error('dist/src/main.js is missing: run npm run build');
  ensureReference(out);
  const pinned = pinSelf();

  out(`# berth bench · ${machine()}`);
  if (cfg.insightOff) out('# --insight-off: Berth runs the groups with insight.enabled false (the insight group sets its own modes)');
  out(`# load generator on CPU ${LOADGEN_CPU}${pinned ? '' : ' (pinning FAILED)'}, servers on CPU ${SERVER_CPU} (the all-core set: nothing pinned), one server at a time; ${cfg.rounds} round(s)${cfg.quick ? ', quick' : ''}`);
  const started = Date.now();

  if (selected(cfg, 'ceilings')) {
    out('## ceilings (this machine, this run)');
    await ceilingFigures(cfg, cleanup, (f) => out(figureLine(f)), (line) => out(`# ${line}`));
  }

  const blobs = new BlobCache();
  const sink = cfg.notify ? await startNotificationSink() : null;
  if (sink) out(`# notifications: both registries deliver to ${sink.url}`);
  const rounds: RoundResults[] = [];
  for (let r = 1; r <= cfg.rounds; r++) {
    // Alternate who goes first so that neither always gets the cooler disk or the emptier page cache.
    const order: RegistryKind[] = r % 2 === 1 ? ['reference', 'berth'] : ['berth', 'reference'];
    const result = {} as RoundResults;
    const upstream = selected(cfg, 'mirror') ? await startUpstream({ cfg, note: (line) => out(`# ${line}`) }, repoRoot, cleanup, blobs) : null;
    // A fresh RGW per round: memstore frees deleted objects only when its garbage collector gets to them.
    const s3 = selected(cfg, 's3') ? await startS3Backend((line) => out(`# ${line}`)) : null;
    try {
      for (const kind of order) {
        out(`## round ${r}/${cfg.rounds} · ${kind === 'berth' ? 'berth' : 'reference (CNCF Distribution)'}`);
        result[kind] = await runRegistry(kind, cfg, repoRoot, cleanup, blobs, sink, upstream, s3);
      }
    } finally {
      await upstream?.server.stop();
      await s3?.stop();
    }
    rounds.push(result);
  }

  const modes = modeTable(rounds, MODES);
  if (modes.length > 0) {
    out('');
    out(`## Berth / reference by mode, median over ${cfg.rounds} round(s): ratio > 1 means Berth is better`);
    out(`# replica, 1 core (the headline): each registry as a replica on its own shared store (Berth: http.secret, storage.cache.ttl 0, one process), pinned to CPU ${SERVER_CPU}; ${cfg.workingSetManifests} manifests and ${cfg.workingSetBlobs} blobs asked for with Zipf's law (s 1.0, the same seeded sequence for both)`);
    out(`# cached, single process: the rates and writes groups: one URL over and over, on a server that owns its store (Berth caches reads 1 s), pinned to CPU ${SERVER_CPU}`);
    out('# all cores: the replica store again, nothing pinned, Berth with http.workers = CPUs, Distribution with its default GOMAXPROCS');
    for (const line of modes) out(line);
  }

  const insight = insightModeTable(rounds, INSIGHT_PREFIX, INSIGHT_MODES, 'off');
  if (insight.length > 0) {
    out('');
    out(`## Image insight, median over ${cfg.rounds} round(s) of each round's ratio: > 1 means better, 0.95 means 5% slower`);
    out('# mode/off: Berth with insight in that mode against Berth with insight off; mode/reference: against Distribution');
    for (const line of insight) out(line);
  }

  out('');
  out(`## Berth / reference, median over ${cfg.rounds} round(s): ratio > 1 means Berth is better`);
  out(`# prefixes: ${REPLICA_PREFIX}* replica mode, 1 core (the headline reads); ${ALLCORE_PREFIX}* all cores, unpinned; no prefix: a single process pinned to CPU ${SERVER_CPU} (reads cached, one URL)`);
  out('# (higher-is-better figures: berth/reference; lower-is-better ones — times, latencies, CPU, RSS: reference/berth)');
  for (const line of ratioTable(rounds)) out(line);
  out(`# total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await sink?.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write((err.message ? err.message + '\n' : '') + USAGE + '\n');
      process.exit(2);
    }
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
