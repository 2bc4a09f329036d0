import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BlobCache, PatternBlob } from '../blob-data';
import type { Cleanup } from '../cleanup';
import { HttpClient } from '../http-client';
import { pullBlob, pushMonolithic } from '../oci';
import { cpuSeconds } from '../proc';
import { startServer, LOADGEN_CPU, type RunningServer } from '../servers';
import { startSlowLink } from '../slow-link';
import { MiB, mbPerSec, median, sizeLabel } from '../stats';
import type { FigureContext, RegistryKind } from '../types';

const REPO = 'bench/mirrored';
/** Blobs pulled in turn, cold then warm; their total is what the rates are over. */
const BLOBS = 4;
/** Clients pulling one cold blob at once. */
const FLIGHT_CLIENTS = 8;
/** Untimed blobs each mirror pulls cold and warm first, as warm-up.ts does for the large-blob figures. */
const WARM_UP_BLOBS = 4;
const WARM_UP_SIZE = 8 * MiB;
/**
 * Warm passes over the blobs; the warm rate is the median pass. One pass is about 0.2 s here, and
 * on a shared machine a single pass moved by up to 2x between back-to-back runs.
 */
const WARM_PASSES = 5;
/** The paced link's rate, bytes per second: about a 1 Gbit/s path to a remote registry. */
const LINK_RATE = 100e6;

/** The upstream every mirror of a round points at: Distribution 2.8, loaded once. */
export interface Upstream {
  server: RunningServer;
  blobs: PatternBlob[];
  /** Pulled by FLIGHT_CLIENTS at once, through each mirror, cold. */
  flight: PatternBlob;
  warmUp: PatternBlob[];
}

/**
 * Starts the upstream and pushes the blobs. It runs on the load generator's CPU, not the servers':
 * it stands for a registry on another machine, so a mirror must not share its CPU with it, and both
 * mirrors (one at a time on the server CPU) see the same arrangement.
 */
export async function startUpstream(ctx: Pick<FigureContext, 'cfg' | 'note'>, repoRoot: string, cleanup: Cleanup, cache: BlobCache): Promise<Upstream> {
  const server = await startServer('reference', repoRoot, cleanup, { cpuProfDir: null, shared: false, notifications: '', cpu: LOADGEN_CPU });
  try {
    const blobs = Array.from({ length: BLOBS }, (_, i) => cache.get(`mirror-${i}`, ctx.cfg.mediumBlob));
    const flight = cache.get('mirror-flight', ctx.cfg.mediumBlob);
    const warmUp = Array.from({ length: WARM_UP_BLOBS }, (_, i) => cache.get(`mirror-warm-up-${i}`, WARM_UP_SIZE));
    const client = new HttpClient(server.target.base, 1);
    try {
      for (const blob of [...blobs, flight, ...warmUp]) await pushMonolithic(client, REPO, blob);
    } finally {
      client.close();
    }
    ctx.note(`mirror upstream: Distribution 2.8 at ${server.target.base} on CPU ${LOADGEN_CPU}, ${BLOBS + 1} blobs of ${sizeLabel(ctx.cfg.mediumBlob)} in ${REPO}`);
    return { server, blobs, flight, warmUp };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Bytes the process has written, sockets included (sendfile counts too): what the upstream sent. */
async function bytesWritten(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/io`, 'utf8');
  return Number(/^wchar:\s+(\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Pulls each blob in turn on a fresh connection, checking its length; returns the milliseconds. */
async function pullInTurn(base: string, blobs: PatternBlob[]): Promise<number> {
  const client = new HttpClient(base, 1);
  try {
    const t0 = performance.now();
    for (const blob of blobs) {
      const n = await pullBlob(client, REPO, blob.digest);
      if (n !== blob.size) throw new Error(`pull of ${blob.digest} returned ${n} bytes, expected ${blob.size}`);
    }
    return performance.now() - t0;
  } finally {
    client.close();
  }
}

/**
 * Waits until the mirror has committed every blob to its storage (both keep Distribution's layout):
 * Distribution 2.8 stores in the background after the response, and a warm pull before that would
 * go to the upstream again.
 */
async function waitCached(root: string, blobs: PatternBlob[], timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  for (const blob of blobs) {
    const hex = blob.digest.slice('sha256:'.length);
    const file = path.join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    for (;;) {
      const size = await stat(file).then((s) => s.size, () => -1);
      if (size === blob.size) break;
      if (performance.now() - t0 > timeoutMs) throw new Error(`${blob.digest} not cached after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return performance.now() - t0;
}

/** Measures `work` with the upstream's bytes sent and the mirror's CPU meanwhile. */
async function observed(upstreamPid: number, mirrorPid: number, work: () => Promise<number>): Promise<{ ms: number; upstreamBytes: number; mirrorCpu: number }> {
  const sent0 = await bytesWritten(upstreamPid);
  const cpu0 = await cpuSeconds(mirrorPid);
  const ms = await work();
  const mirrorCpu = (await cpuSeconds(mirrorPid)) - cpu0;
  return { ms, upstreamBytes: (await bytesWritten(upstreamPid)) - sent0, mirrorCpu };
}

/** A fresh mirror of `kind` pointing at `upstreamBase`, warmed up, for the length of `work`. */
async function withMirror(kind: RegistryKind, upstreamBase: string, warmUp: PatternBlob[], env: MirrorEnv, work: (mirror: RunningServer, root: string) => Promise<void>): Promise<void> {
  const mirror = await startServer(kind, env.repoRoot, env.cleanup, { cpuProfDir: env.cpuProfDir, shared: false, notifications: '', proxy: upstreamBase });
  try {
    const root = path.join(mirror.dir, 'storage');
    // A mirror in service is warm: without this the first cold pull also measures V8 compiling
    // Berth's fetch path.
    await pullInTurn(mirror.target.base, warmUp);
    await waitCached(root, warmUp);
    await pullInTurn(mirror.target.base, warmUp);
    await work(mirror, root);
  } finally {
    await mirror.stop();
  }
}

interface MirrorEnv {
  repoRoot: string;
  cleanup: Cleanup;
  cpuProfDir: string | null;
}

/**
 * Cold and warm pulls through a mirror of `kind` on fresh storage, next to the upstream's own rate
 * measured just before, and several clients on one cold blob; then cold pulls again through a fresh
 * mirror whose upstream is behind a paced link, as a remote one is.
 */
export async function mirrorFigures(ctx: FigureContext, kind: RegistryKind, upstream: Upstream, repoRoot: string, cleanup: Cleanup): Promise<void> {
  const { cfg, emit, note } = ctx;
  const env: MirrorEnv = { repoRoot, cleanup, cpuProfDir: cfg.cpuProfDir };
  const total = upstream.blobs.reduce((n, b) => n + b.size, 0);
  const label = `${BLOBS}x${sizeLabel(cfg.mediumBlob)}`;
  const up = upstream.server.target;

  const direct = await pullInTurn(up.base, upstream.blobs);
  emit({ name: `mirror-upstream-direct-${label}`, value: mbPerSec(total, direct), unit: 'MB/s', better: 'info' });

  await withMirror(kind, up.base, upstream.warmUp, env, async (mirror, root) => {
    const cold = await observed(up.pid, mirror.target.pid, () => pullInTurn(mirror.target.base, upstream.blobs));
    const stored = await waitCached(root, upstream.blobs);
    note(`mirror cold: ${(cold.ms / 1000).toFixed(2)} s, mirror CPU ${((cold.mirrorCpu * 1e5) / cold.ms).toFixed(0)}%, upstream sent ${(cold.upstreamBytes / total).toFixed(2)}x the bytes, all in storage ${stored.toFixed(0)} ms after the last pull`);
    emit({ name: `mirror-cold-${label}`, value: mbPerSec(total, cold.ms), unit: 'MB/s', better: 'higher' });
    emit({ name: 'mirror-cold-of-upstream', value: direct / cold.ms, unit: 'x', better: 'higher' });
    emit({ name: 'mirror-cold-upstream-bytes', value: cold.upstreamBytes / total, unit: 'x blobs', better: 'lower' });
    // CPU per byte is steadier than the rate on a shared machine, and says what bounds a cold pull.
    emit({ name: 'mirror-cold-cpu', value: cold.mirrorCpu / (total / 1e9), unit: 's/GB', better: 'lower' });

    const passes: number[] = [];
    const warm = await observed(up.pid, mirror.target.pid, async () => {
      for (let i = 0; i < WARM_PASSES; i++) passes.push(await pullInTurn(mirror.target.base, upstream.blobs));
      return passes.reduce((a, b) => a + b, 0);
    });
    const rates = passes.map((ms) => mbPerSec(total, ms));
    note(`mirror warm: ${WARM_PASSES} passes ${rates.map((r) => r.toFixed(0)).join(' ')} MB/s, mirror CPU ${((warm.mirrorCpu * 1e5) / warm.ms).toFixed(0)}%, upstream sent ${warm.upstreamBytes} bytes`);
    emit({ name: `mirror-warm-${label}`, value: median(rates), unit: 'MB/s', better: 'higher' });
    emit({ name: 'mirror-warm-cpu', value: warm.mirrorCpu / ((WARM_PASSES * total) / 1e9), unit: 's/GB', better: 'lower' });

    const { flight } = upstream;
    const client = new HttpClient(mirror.target.base, FLIGHT_CLIENTS);
    try {
      const many = await observed(up.pid, mirror.target.pid, async () => {
        const t0 = performance.now();
        const sizes = await Promise.all(Array.from({ length: FLIGHT_CLIENTS }, () => pullBlob(client, REPO, flight.digest)));
        if (sizes.some((n) => n !== flight.size)) throw new Error(`a pull returned ${sizes.join(',')} bytes, expected ${flight.size}`);
        return performance.now() - t0;
      });
      emit({ name: `mirror-cold-c${FLIGHT_CLIENTS}-${sizeLabel(flight.size)}`, value: mbPerSec(FLIGHT_CLIENTS * flight.size, many.ms), unit: 'MB/s', better: 'higher' });
      emit({ name: `mirror-cold-c${FLIGHT_CLIENTS}-upstream-bytes`, value: many.upstreamBytes / flight.size, unit: 'x blob', better: 'lower' });
    } finally {
      client.close();
    }
  });

  const link = await startSlowLink(new URL(up.base), LINK_RATE);
  try {
    const before = await pullInTurn(link.base, upstream.blobs);
    await withMirror(kind, link.base, upstream.warmUp, env, async (mirror) => {
      const cold = await pullInTurn(mirror.target.base, upstream.blobs);
      // Direct pulls on both sides of the mirror's, so that a neighbour's load that comes or goes
      // meanwhile weighs on both (the mirror is idle during the second).
      const linkDirect = (before + (await pullInTurn(link.base, upstream.blobs))) / 2;
      emit({ name: `mirror-link-upstream-direct-${label}`, value: mbPerSec(total, linkDirect), unit: 'MB/s', better: 'info' });
      emit({ name: `mirror-link-cold-${label}`, value: mbPerSec(total, cold), unit: 'MB/s', better: 'higher' });
      emit({ name: 'mirror-link-cold-of-upstream', value: linkDirect / cold, unit: 'x', better: 'higher' });
    });
  } finally {
    await link.close();
  }
}
