import { readdir, rmdir, unlink } from 'node:fs/promises';
import { isMissing, succeeds } from './errno';

function ignoreMissing(err: unknown): void {
  if (!isMissing(err)) throw err;
}

/**
 * rm -r that lets only a missing `path` itself reject (ENOENT): whatever disappears below it
 * meanwhile is already gone. Cheaper than fs.rm on what hot paths delete, a file or an upload's
 * directory of one file: unlink or rmdir first (rmdir first when `likelyDir`), and listing with
 * types instead of a stat per entry.
 */
export async function removeTree(path: string, likelyDir: boolean): Promise<void> {
  if (likelyDir && (await succeeds(removeDir(path), 'ENOTDIR'))) return;
  if (await succeeds(unlink(path), 'EISDIR', 'EPERM')) return;
  await removeDir(path);
}

async function removeDir(dir: string): Promise<void> {
  if (await succeeds(rmdir(dir), 'ENOTEMPTY', 'EEXIST')) return;
  const entries = await readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map((e) => {
      const child = `${dir}/${e.name}`;
      return (e.isDirectory() ? removeDir(child) : unlink(child)).catch(ignoreMissing);
    }),
  );
  await rmdir(dir).catch(ignoreMissing);
}
