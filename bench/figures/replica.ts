import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobCache } from '../blob-data';
import type { Cleanup } from '../cleanup';
import { descendants } from '../proc';
import { ALL_CPUS, pinSelf, startServer, type RunningServer } from '../servers';
import type { FigureContext, RegistryKind } from '../types';
import { concurrentPushFigures } from './concurrent-push';
import { seedWorkingSet, workingSet, type WorkingSet } from './working-set';
import { manifestPuts } from './writes';
import { zipfReadFigures } from './zipf-reads';

/** Figure-name prefixes of the two modes, which the report's mode table reads back. */
export const REPLICA_PREFIX = 'replica-';
export const ALLCORE_PREFIX = 'allcore-';

export type ModeContext = Omit<FigureContext, 'target'>;

export interface ReplicaRun {
  kind: RegistryKind;
  repoRoot: string;
  cleanup: Cleanup;
  blobs: BlobCache;
  notifications: string;
  /** Which of the two figure sets to measure (the working set is seeded either way). */
  replica: boolean;
  allcore: boolean;
}

let cachedSet: { key: string; set: WorkingSet } | null = null;

/** The set is the same for both registries and every round: built (hashed) once. */
function theWorkingSet(ctx: ModeContext): WorkingSet {
  const key = `${ctx.cfg.workingSetManifests}/${ctx.cfg.workingSetBlobs}`;
  if (cachedSet?.key !== key) cachedSet = { key, set: workingSet(ctx.cfg) };
  return cachedSet.set;
}

function withPrefix(ctx: ModeContext, server: RunningServer, prefix: string): FigureContext {
  return {
    target: server.target,
    cfg: ctx.cfg,
    emit: (f) => ctx.emit({ ...f, name: prefix + f.name }),
    note: (line) => ctx.note(prefix + line),
  };
}

/**
 * Replica mode, the headline reads: the registry as one replica of several on a shared store (Berth
 * with the replicas' `http.secret` and `storage.cache.ttl` 0, one process), pinned to the servers'
 * CPU as the other groups are, reading a working set of many manifests and blobs with Zipf's law.
 * Then all cores: a new server on the same store, nothing pinned (the load generator included),
 * Berth with `http.workers` = the machine's CPUs, Distribution with Go's default GOMAXPROCS: the
 * same reads, manifest PUTs and the concurrent push. The store is the registry's own and goes at
 * the end.
 */
export async function replicaModeFigures(ctx: ModeContext, run: ReplicaRun): Promise<void> {
  const { kind, repoRoot, cleanup, notifications } = run;
  const storageRoot = await mkdtemp(path.join(os.tmpdir(), `berth-bench-replica-${kind}-`));
  cleanup.addDir(storageRoot);
  const set = theWorkingSet(ctx);
  const common = { cpuProfDir: ctx.cfg.cpuProfDir, shared: true, notifications, storageRoot };
  try {
    const pinned = await startServer(kind, repoRoot, cleanup, { ...common, workers: 1 });
    try {
      await seedWorkingSet({ ...ctx, target: pinned.target }, set);
      if (run.replica) await zipfReadFigures(withPrefix(ctx, pinned, REPLICA_PREFIX), set);
    } finally {
      await pinned.stop();
    }
    if (run.allcore) await allCoreFigures(ctx, run, common, set);
  } finally {
    cleanup.removeDir(storageRoot);
  }
}

async function allCoreFigures(ctx: ModeContext, run: ReplicaRun, common: { cpuProfDir: string | null; shared: boolean; notifications: string; storageRoot: string }, set: WorkingSet): Promise<void> {
  const cores = os.cpus().length;
  // A child inherits its parent's affinity: the generator lets go of its CPU before the start.
  if (!pinSelf(ALL_CPUS)) ctx.note('all cores: could not unpin the load generator');
  try {
    const server = await startServer(run.kind, run.repoRoot, run.cleanup, { ...common, cpu: null, workers: cores });
    try {
      const processes = 1 + (await descendants(server.target.pid)).length;
      ctx.note(`all cores: ${run.kind} unpinned on ${cores} CPUs, ${processes} process(es)${run.kind === 'berth' ? `, http.workers ${cores}` : ', GOMAXPROCS unset'}`);
      const modeCtx = withPrefix(ctx, server, ALLCORE_PREFIX);
      await zipfReadFigures(modeCtx, set);
      await manifestPuts(modeCtx);
      await concurrentPushFigures(modeCtx, run.blobs);
    } finally {
      await server.stop();
    }
  } finally {
    if (!pinSelf()) ctx.note('all cores: could not pin the load generator again');
  }
}
