import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Everything written so far under `dir` looks two hours old, as if pushed long before the
 * collection. A file or directory that goes away meanwhile is skipped: the server may still be
 * writing beside the walk (the analysis queue's marker of a blob lands after the upload's 201, its
 * `~tmp-` file renamed into place).
 */
export async function age(dir: string): Promise<void> {
  const then = new Date(Date.now() - 2 * 3_600_000);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await age(p);
    await utimes(p, then, then).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}
