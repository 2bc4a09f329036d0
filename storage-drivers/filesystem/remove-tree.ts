import { readdir, rmdir, unlink } from 'node:fs/promises';
import { errnoCode, isMissing, succeeds } from './errno';

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

/**
 * Rounds of listing and removing a directory that writers keep filling (a tag's directory while a
 * push writes its links), before the delete gives up with ENOTEMPTY.
 */
const REMOVE_ROUNDS = 20;

async function removeDir(dir: string): Promise<void> {
  if (await succeeds(rmdir(dir), 'ENOTEMPTY', 'EEXIST')) return;
  for (let round = 1; ; round++) {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      // Only the first listing may report the directory missing: later, another delete took it.
      if (round > 1 && isMissing(err)) return;
      throw err;
    }
    await Promise.all(
      entries.map((e) => {
        const child = `${dir}/${e.name}`;
        return (e.isDirectory() ? removeDir(child) : unlink(child)).catch(ignoreMissing);
      }),
    );
    // Something written after the listing: removed as S3's delete re-lists, so that nothing written
    // before the directory went is left (a tag's index link without its current link, a phantom tag).
    const removed = await rmdir(dir).then(
      () => true,
      (err: unknown) => {
        if (isMissing(err)) return true;
        if (round < REMOVE_ROUNDS && (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST')) return false;
        throw err;
      },
    );
    if (removed) return;
  }
}
