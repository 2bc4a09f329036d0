import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound, PathExistsError } from '../../storage-drivers/errors';
import { paths } from './paths';

/**
 * What a collection tells every writer sharing the store, so that no push it acknowledges can lose
 * data to a sweep running at the same time (docs/architecture.md, "Garbage collection"):
 * - STATE: a generation counter that each sweep increments, whether it is sweeping now, and a
 *   heartbeat the sweeper bumps while it sweeps. Small, read by every write that makes content
 *   reachable (manifest PUT, upload commit, mount).
 * - CANDIDATES: what the sweep of a generation may delete, written before that generation's state,
 *   read by a writer only when a sweep is running.
 * Both live beside the collection lease (gc-lease.ts), under paths.ts's Berth-only root.
 */
export interface SweepState {
  generation: number;
  sweeping: boolean;
  /** Incremented by the sweeper every few seconds; a writer that sees it stand still knows the sweeper died. */
  heartbeat: number;
  owner?: string;
  /**
   * The quiet period: a sweep that begins after this state was written waits at least this long
   * (ms) between announcing itself and re-reading the links, so a writer whose links are durable
   * well within it after a read of this state needs no second read (gc-fence.ts). Absent or 0: none.
   */
  quietMs?: number;
}

export interface SweepCandidates {
  generation: number;
  /** Blob data the sweep may delete, by the digest it is stored under. */
  blobs: string[];
  /** Untagged manifests the sweep may delete, as `repository@digest`. */
  manifests: string[];
}

export const IDLE: SweepState = { generation: 0, sweeping: false, heartbeat: 0 };

async function readJson<T>(driver: StorageDriver, path: string): Promise<T | undefined>;
async function readJson<T>(driver: StorageDriver, path: string, tellAbsent: true): Promise<T | undefined | 'absent'>;
async function readJson<T>(driver: StorageDriver, path: string, tellAbsent = false): Promise<T | undefined | 'absent'> {
  try {
    return JSON.parse((await driver.getContent(path)).toString('utf8')) as T;
  } catch (err) {
    // A torn or foreign file reads as no state: the writer side then treats the store as idle at
    // generation 0 with no quiet period, and the next sweep (generation 1) is still told apart from it.
    if (isNotFound(err)) return tellAbsent ? 'absent' : undefined;
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** What was read as the state, or IDLE when it was none (absent, torn, foreign). */
function asSweepState(s: SweepState | undefined): SweepState {
  return s && Number.isSafeInteger(s.generation) ? s : IDLE;
}

export async function readSweepState(driver: StorageDriver): Promise<SweepState> {
  return asSweepState(await readJson<SweepState>(driver, paths.gcSweepState));
}

/**
 * The sweep state; on a store that has none yet, first creates the idle state promising `quietMs`
 * (exclusively: of racers one wins, and all read what it wrote). Both sides use it, so the promise
 * a writer reads is the one the next sweeper starts from: without it, a sweeper that read "no state"
 * just before a writer created one with a longer promise could wait less than that writer counts on.
 * Once a state exists only the sweeper holding the collection lease writes it.
 * `sweeper`: a failed create is thrown (the sweep stops before announcing anything) rather than read
 * as no promise, since a writer may yet create the state with a longer one.
 */
export async function ensureSweepState(driver: StorageDriver, quietMs: number, sweeper = false): Promise<SweepState> {
  const found = await readJson<SweepState>(driver, paths.gcSweepState, true);
  // A sweeper creates the state even when it promises nothing: once it has read it, no writer may
  // create one with a promise this sweep would not keep.
  if (found !== 'absent') return asSweepState(found);
  if (quietMs <= 0 && !sweeper) return IDLE;
  const initial: SweepState = quietMs > 0 ? { ...IDLE, quietMs } : IDLE;
  try {
    await driver.createExclusive(paths.gcSweepState, Buffer.from(JSON.stringify(initial)));
    return initial;
  } catch (err) {
    if (err instanceof PathExistsError) return readSweepState(driver);
    if (sweeper) throw err;
    // Unwritable (a full or read-only disk): this writer takes both looks, as on a store without one.
    return IDLE;
  }
}

/** The quiet period a state promises (0 when none, or when the file holds something else there). */
export function quietPeriod(state: SweepState): number {
  const q = state.quietMs;
  return typeof q === 'number' && Number.isFinite(q) && q > 0 ? q : 0;
}

export async function readSweepCandidates(driver: StorageDriver): Promise<SweepCandidates | undefined> {
  return readJson<SweepCandidates>(driver, paths.gcSweepCandidates);
}

export function writeSweepState(driver: StorageDriver, state: SweepState): Promise<void> {
  return driver.putContent(paths.gcSweepState, Buffer.from(JSON.stringify(state)));
}

export function writeSweepCandidates(driver: StorageDriver, c: SweepCandidates): Promise<void> {
  return driver.putContent(paths.gcSweepCandidates, Buffer.from(JSON.stringify(c)));
}

export function manifestKey(name: string, digest: string): string {
  return `${name}@${digest}`;
}

/** manifestKey's parts: repository names have no `@`, so the last one separates them. */
export function splitManifestKey(key: string): { repository: string; digest: string } {
  const at = key.lastIndexOf('@');
  return { repository: key.slice(0, at), digest: key.slice(at + 1) };
}
