import type { Dirent } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import type { FileInfo } from '../types';
import { ASIDE_PREFIX, restoreAside } from './conditional-delete';
import { isMissing } from './errno';

/**
 * Prefix of putContent's temp names. `~` cannot appear in a valid path component, so a temp file
 * (even one left by a crash) can never collide with or be listed as real content.
 */
export const TEMP_PREFIX = '~tmp-';

interface Measured {
  size: number;
  /** The newest mtime in the tree: a temp directory is as young as its youngest entry. */
  newest: Date;
  isDir: boolean;
}

/** Entries of `dir` in name order; null when it is gone (removed by a concurrent delete). */
async function entries(dir: string): Promise<Dirent[] | null> {
  try {
    return (await readdir(dir || '/', { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

async function measure(file: string): Promise<Measured | null> {
  let info;
  try {
    info = await lstat(file);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
  const m: Measured = { size: info.isDirectory() ? 0 : info.size, newest: info.mtime, isDir: info.isDirectory() };
  if (!m.isDir) return m;
  for (const e of (await entries(file)) ?? []) {
    const child = await measure(`${file}/${e.name}`);
    if (child === null) continue;
    m.size += child.size;
    if (child.newest > m.newest) m.newest = child.newest;
  }
  return m;
}

/** When a file was renamed aside: its ctime (a rename sets it), not its mtime (its content's age). */
async function setAsideAt(file: string): Promise<Measured | null> {
  try {
    const info = await lstat(file);
    return { size: info.size, newest: info.ctime, isDir: false };
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

/**
 * Walks the raw tree below `root` (list and walk hide temp names) for temp files and directories
 * whose newest mtime is before `olderThan`, and removes them unless `dryRun`; and for files a
 * deleteIf set aside before `olderThan` and never finished with (a crash), which go back to their
 * names unless a newer file is there (conditional-delete.ts). Paths are reported relative to the
 * root, as the driver's paths are. Symbolic links are not followed.
 */
export async function purgeTempFiles(root: string, olderThan: Date, dryRun: boolean, syncDir: (dir: string) => Promise<void>): Promise<FileInfo[]> {
  const found: FileInfo[] = [];
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const e of (await entries(dir)) ?? []) {
      const file = `${dir}/${e.name}`;
      const path = `${rel}/${e.name}`;
      if (e.name.startsWith(ASIDE_PREFIX) && !e.isDirectory()) {
        const m = await setAsideAt(file);
        if (m === null || m.newest >= olderThan) continue;
        found.push({ path, size: m.size, modTime: m.newest, isDir: false });
        if (!dryRun) await restoreAside(file, syncDir);
        continue;
      }
      if (!e.name.startsWith(TEMP_PREFIX)) {
        if (e.isDirectory()) await visit(file, path);
        continue;
      }
      const m = await measure(file);
      if (m === null || m.newest >= olderThan) continue;
      found.push({ path, size: m.size, modTime: m.newest, isDir: m.isDir });
      if (!dryRun) await rm(file, { recursive: true, force: true });
    }
  };
  // A root of `/` must not turn into `//name` paths.
  await visit(root === '/' ? '' : root, '');
  return found;
}
