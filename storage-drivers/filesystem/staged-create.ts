import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode, isMissing } from './errno';
import type { KnownDirs } from './known-dirs';

/**
 * Writes a file whose directory does not exist yet so that the new directories appear only with the
 * file in them: they are made under a temp name beside their nearest existing ancestor, the file is
 * written inside, and the topmost new directory is renamed into place. Listings show directories
 * (a tag is a directory), so a crash or a full disk half-way must not leave an empty one behind: it
 * leaves only the temp directory, which no listing shows and leftover collection removes.
 * Returns the directories whose syncs make the result durable, or null when `dir` exists after all
 * (the caller then writes as usual).
 */
export async function createWithDirs(
  root: string,
  file: string,
  data: Uint8Array,
  how: { flags: number; mode: number },
  known: KnownDirs,
  tempName: (dir: string) => string,
  makeDir: (dir: string) => Promise<void>,
): Promise<string[] | null> {
  const dir = dirname(file);
  let trustKnown = true;
  for (let attempt = 0; attempt < 3; attempt++) {
    const top = await topMissing(dir, root, trustKnown ? known : undefined);
    if (top === null) return null;
    const parent = dirname(top);
    const stage = tempName(parent);
    const staged = stage + file.slice(top.length);
    try {
      await mkdir(stage);
    } catch (err) {
      if (!isMissing(err)) throw err;
      // Believed to exist, but gone (removed by another process): look again without the belief.
      for (let d = parent; d.length > root.length; d = dirname(d)) known.forget(d);
      trustKnown = false;
      continue;
    }
    let placed = false;
    try {
      await mkdir(dirname(staged), { recursive: true });
      const handle = await open(staged, how.flags, how.mode);
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      try {
        await rename(stage, top);
        placed = true;
      } catch (err) {
        const code = errnoCode(err);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        // Another writer made the directory meanwhile: move the file into what exists now.
        await makeDir(dir);
        await rename(staged, file);
      }
    } finally {
      if (!placed) await rm(stage, { recursive: true, force: true });
    }
    known.learn(dir);
    // The file's directory holds its entry, and the top's parent the new directories' entry.
    return [dir, parent];
  }
  throw Object.assign(new Error(`${dir}: its parent directories keep disappearing`), { code: 'ENOENT' });
}

/**
 * The highest missing directory on the way down to `dir`, or null when `dir` exists. Never above
 * `root`, the driver's own directory, which is made plainly when missing (it holds no content).
 */
async function topMissing(dir: string, root: string, known: KnownDirs | undefined): Promise<string | null> {
  const hinted = known?.missingBelowKnown(dir) ?? null;
  if (hinted !== null && hinted.length > 0) return hinted[hinted.length - 1];
  let top: string | null = null;
  for (let d = dir; d.length > root.length; d = dirname(d)) {
    try {
      await stat(d);
      return top;
    } catch (err) {
      if (!isMissing(err)) throw err;
      top = d;
    }
  }
  await mkdir(root, { recursive: true });
  return top;
}
