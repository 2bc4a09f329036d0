import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PutContentOptions } from '../types';
import { errnoCode, naming, succeeds } from './errno';
import type { KnownDirs } from './known-dirs';
import { TEMP_PREFIX } from './leftovers';
import { createWithDirs } from './staged-create';

const { O_WRONLY, O_CREAT, O_EXCL, O_DSYNC, O_RDONLY, O_DIRECTORY } = constants;

/** What the write paths share with the driver: its root, its memory of existing directories and its directory syncs. */
export interface WriteTarget {
  root: string;
  known: KnownDirs;
  makeDir(dir: string): Promise<void>;
  /** Resolves once an fsync of `dir` that started after the call has completed (see DirSyncs). */
  syncDir(dir: string): Promise<void>;
}

/**
 * A rename is durable only once its directory is: without this, a crash soon after a 201 (before the
 * kernel writes the directory back, up to half a minute later) could leave the fsynced content under
 * its temp name and nothing at the path the client was told about. ext4 (with or without a journal)
 * and XFS also make the new directories above it durable on this fsync, as they do for a new file.
 */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, O_RDONLY | O_DIRECTORY);
  try {
    await handle.sync();
  } catch (err) {
    throw naming(err, dir);
  } finally {
    await handle.close();
  }
}

/** A new file's mode: the owner's alone for `private` content (a key), else as the umask allows. */
function fileMode(opts: Pick<PutContentOptions, 'private'>): number {
  return opts.private === true ? 0o600 : 0o666;
}

export function tempName(dir: string): string {
  return `${dir}/${TEMP_PREFIX}${randomBytes(12).toString('hex')}`;
}

/** putContent: a temp file renamed over `file`, its directories made with it when they are new. */
export async function replaceFile(t: WriteTarget, file: string, data: Uint8Array, opts: PutContentOptions): Promise<void> {
  const dir = dirname(file);
  // O_DSYNC makes the write return only once the data is durable, as write + fdatasync would,
  // in one trip through the libuv pool instead of two.
  const flags = O_WRONLY | O_CREAT | O_EXCL | (opts.durable === false ? 0 : O_DSYNC);
  const mode = fileMode(opts);
  let synced = [dir];
  if (!(await replaceIn(t, dir, file, data, flags, mode))) {
    const staged = await createWithDirs(t.root, file, data, { flags, mode }, t.known, tempName, (d) => t.makeDir(d));
    if (staged) synced = staged;
    else await replaceIn(t, dir, file, data, flags, mode, true);
  }
  if (opts.durable !== false) await Promise.all(synced.map((d) => t.syncDir(d)));
}

/**
 * Writes a temp file in `dir` and renames it over `file`. False when `dir` is missing (or, unless
 * `exists`, likely new), for createWithDirs to make it.
 */
async function replaceIn(t: WriteTarget, dir: string, file: string, data: Uint8Array, flags: number, mode: number, exists = false): Promise<boolean> {
  if (!exists && !t.known.has(dir) && t.known.has(dirname(dir))) return false;
  const temp = tempName(dir);
  let handle: FileHandle;
  try {
    handle = await open(temp, flags, mode);
  } catch (err) {
    if (exists || errnoCode(err) !== 'ENOENT') throw err;
    t.known.forget(dir);
    return false;
  }
  t.known.learn(dir);
  try {
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw naming(err, file);
  }
  return true;
}

/**
 * createExclusive: a temp file (synced unless `durable: false`) hard-linked to the path. link() fails with EEXIST,
 * atomically, when anything is there (unlike rename, which replaces), and the name appears only with
 * the complete content. False when the path exists.
 */
export async function linkExclusive(t: WriteTarget, file: string, data: Uint8Array, opts: PutContentOptions): Promise<boolean> {
  const dir = dirname(file);
  const temp = tempName(dir);
  const durable = opts.durable !== false;
  const flags = O_WRONLY | O_CREAT | O_EXCL | (durable ? O_DSYNC : 0);
  let handle: FileHandle;
  try {
    handle = await open(temp, flags, fileMode(opts));
  } catch (err) {
    // The directory usually exists (event segments come every few requests): make it only when missing.
    if (errnoCode(err) !== 'ENOENT') throw naming(err, file);
    await mkdir(dir, { recursive: true });
    handle = await open(temp, flags, fileMode(opts));
  }
  let created: boolean;
  try {
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
    created = await succeeds(link(temp, file), 'EEXIST');
  } catch (err) {
    throw naming(err, file);
  } finally {
    await rm(temp, { force: true });
  }
  if (created && durable) await t.syncDir(dir);
  return created;
}
