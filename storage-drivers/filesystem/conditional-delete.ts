import { randomBytes } from 'node:crypto';
import { link, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { errnoCode, isMissing, succeeds } from './errno';

/**
 * Prefix of the name a file is renamed to while deleteIf looks at it. Like putContent's temp names
 * it holds `~`, so no listing shows it and no valid path meets it; unlike them it is content: a
 * crash between the rename and the put-back strands the file there, and leftover collection puts
 * it back (restoreAside).
 */
export const ASIDE_PREFIX = '~aside-';

/** `<dir>/~aside-<hex>.<name>`: the random part has no dot, so the original name is what follows the first. */
function asideName(file: string): string {
  return `${dirname(file)}/${ASIDE_PREFIX}${randomBytes(8).toString('hex')}.${basename(file)}`;
}

/** The path an aside file was taken from, or null for a name deleteIf does not make. */
export function originalOf(aside: string): string | null {
  const name = basename(aside);
  const dot = name.indexOf('.', ASIDE_PREFIX.length);
  if (!name.startsWith(ASIDE_PREFIX) || dot < 0 || dot === name.length - 1) return null;
  return `${dirname(aside)}/${name.slice(dot + 1)}`;
}

/** Whether `file` is a file holding exactly `expected`; false when absent or a directory. */
async function holds(file: string, expected: Uint8Array): Promise<boolean> {
  try {
    return (await readFile(file)).equals(expected);
  } catch (err) {
    if (isMissing(err) || errnoCode(err) === 'EISDIR') return false;
    throw err;
  }
}

/**
 * The filesystem's deleteIf. No system call removes a name only while it holds given content, so
 * the file is renamed aside (atomic: from then on no writer's rename can be lost by this delete,
 * since a new file at the name is a new inode), read there, and then either unlinked or, when a
 * writer replaced it between the first read and the rename, linked back. link() fails with EEXIST
 * when a writer has put a newer file at the name meanwhile, which then stays: the newer write wins.
 * Readers may miss the file for the moment it is aside, and only when it did not hold `expected`
 * at the first read: a reader racing a write of it.
 */
export async function deleteIfHolds(file: string, expected: Uint8Array, syncDir: (dir: string) => Promise<void>): Promise<boolean> {
  // The common refusal (the file names something else now) costs one read and no rename.
  if (!(await holds(file, expected))) return false;
  const aside = asideName(file);
  if (!(await succeeds(rename(file, aside), 'ENOENT'))) return false;
  let taken = false;
  try {
    taken = await holds(aside, expected);
  } finally {
    if (taken) await unlink(aside);
    else await putBack(aside, file, syncDir);
  }
  return taken;
}

/** Links an aside file back to its name unless a newer file is there, then drops the aside name. */
async function putBack(aside: string, file: string, syncDir: (dir: string) => Promise<void>): Promise<boolean> {
  const restored = await succeeds(link(aside, file), 'EEXIST');
  await unlink(aside);
  // The name was durable before it was taken aside: it is again before the caller goes on.
  await syncDir(dirname(file));
  return restored;
}

/** Leftover collection's part for an aside file stranded by a crash: true when it went back to its name. */
export async function restoreAside(aside: string, syncDir: (dir: string) => Promise<void>): Promise<boolean> {
  const original = originalOf(aside);
  if (original === null) return false;
  try {
    return await putBack(aside, original, syncDir);
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/**
 * The filesystem's pruneDirs: rmdir, deepest first, of every directory at and below `dir` that holds
 * no file. rmdir refuses (ENOTEMPTY) a directory a writer has put something in meanwhile, so no
 * write is lost; a writer's new directory can also disappear under it, which its ENOENT retry
 * covers, as for a recursive delete. Returns whether `dir` is gone.
 */
export async function pruneEmptyDirs(dir: string): Promise<boolean> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isMissing(err) || errnoCode(err) === 'ENOTDIR') return isMissing(err);
    throw err;
  }
  let empty = true;
  for (const e of entries) {
    // A `~` name is a write in progress (a staged directory, a temp file) or an aside file: not ours.
    if (e.name.startsWith('~') || !e.isDirectory() || !(await pruneEmptyDirs(`${dir}/${e.name}`))) empty = false;
  }
  if (!empty) return false;
  try {
    await rmdir(dir);
    return true;
  } catch (err) {
    if (isMissing(err)) return true;
    if (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
}
