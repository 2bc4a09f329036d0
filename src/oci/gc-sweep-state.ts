import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
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
}

export interface SweepCandidates {
  generation: number;
  /** Blob data the sweep may delete, by the digest it is stored under. */
  blobs: string[];
  /** Untagged manifests the sweep may delete, as `repository@digest`. */
  manifests: string[];
}

export const IDLE: SweepState = { generation: 0, sweeping: false, heartbeat: 0 };

async function readJson<T>(driver: StorageDriver, path: string): Promise<T | undefined> {
  try {
    return JSON.parse((await driver.getContent(path)).toString('utf8')) as T;
  } catch (err) {
    // A torn or foreign file reads as absent: the writer side then treats the store as idle at
    // generation 0, and the next sweep (generation 1) is still told apart from it.
    if (isNotFound(err) || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export async function readSweepState(driver: StorageDriver): Promise<SweepState> {
  const s = await readJson<SweepState>(driver, paths.gcSweepState);
  return s && Number.isSafeInteger(s.generation) ? s : IDLE;
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
