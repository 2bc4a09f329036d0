import { randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A store's layout directories, relative to a filesystem root, where pushes leave temp files. */
export const V2 = 'docker/registry/v2';

/**
 * Writes a temp file as the filesystem driver's putContent names them (`~tmp-` + 24 hex), as a
 * process killed between its create and rename leaves it, last modified `ageMs` ago (negative: in
 * the future). Returns its full path.
 */
export async function plantTemp(root: string, dir: string, ageMs: number, bytes = 100): Promise<string> {
  await mkdir(join(root, dir), { recursive: true });
  const file = join(root, dir, `~tmp-${randomBytes(12).toString('hex')}`);
  await writeFile(file, Buffer.alloc(bytes, 7));
  const when = new Date(Date.now() - ageMs);
  await utimes(file, when, when);
  return file;
}

/** Dates every file below `dir` `ageMs` in the past, as if all of it had been written then. */
export async function ageTree(dir: string, ageMs: number): Promise<void> {
  const then = new Date(Date.now() - ageMs);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await ageTree(p, ageMs);
    await utimes(p, then, then);
  }
}
