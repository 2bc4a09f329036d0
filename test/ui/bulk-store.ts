import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Distribution's layout under a filesystem root (docs/architecture.md, "On-storage layout"). */
export function repositoriesDir(root: string): string {
  return path.join(root, 'docker', 'registry', 'v2', 'repositories');
}

/** Runs `task` for 0..count-1, `width` at a time. */
async function inParallel(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** The digest `tag` of `source` names. */
async function tagged(root: string, source: string, tag: string): Promise<string> {
  return (await readFile(path.join(repositoriesDir(root), source, '_manifests', 'tags', tag, 'current', 'link'), 'utf8')).trim();
}

async function link(file: string, digest: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, digest);
}

/**
 * `count` repositories named `<prefix><00000…>`, each with `source`'s image under tag `tag`, written
 * straight into the store as Distribution would have (a push each would take minutes); a registry
 * on the store serves them as pushed. The blobs are already there, being `source`'s.
 */
export async function writeRepositories(root: string, source: string, tag: string, prefix: string, count: number): Promise<string[]> {
  const manifest = await tagged(root, source, tag);
  const hex = manifest.slice('sha256:'.length);
  const names = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
  await inParallel(count, 32, async (i) => {
    const repo = path.join(repositoriesDir(root), names[i]);
    // The tag and the revision: what the catalog lists and a pull by tag reads. Layer links too would
    // triple the time this takes, and the views measured here never read a perf repository's blobs.
    await link(path.join(repo, '_manifests', 'revisions', 'sha256', hex, 'link'), manifest);
    await link(path.join(repo, '_manifests', 'tags', tag, 'current', 'link'), manifest);
  });
  return names;
}

/** `target`, a copy of `source`, with `count` more tags `<prefix><00000…>` on the same image. */
export async function writeTags(root: string, source: string, tag: string, target: string, prefix: string, count: number): Promise<void> {
  const manifest = await tagged(root, source, tag);
  const repo = path.join(repositoriesDir(root), target);
  await cp(path.join(repositoriesDir(root), source), repo, { recursive: true });
  await inParallel(count, 32, async (i) => {
    await link(path.join(repo, '_manifests', 'tags', `${prefix}${String(i).padStart(5, '0')}`, 'current', 'link'), manifest);
  });
}
