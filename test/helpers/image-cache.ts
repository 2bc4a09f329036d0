import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { buildBerthImage, CONTEXT_ENTRIES, type BaseImages } from './base-image';
import type { Dockerd } from './dockerd';

/**
 * Set by scripts/run-tests.mjs to a directory of its own for one `npm test` run, removed when the run
 * ends: nothing saved in it can outlive the sources it was built from.
 */
export const IMAGE_CACHE_ENV = 'BERTH_TEST_IMAGE_CACHE';

async function hashTree(hash: Hash, root: string, rel: string): Promise<void> {
  const p = path.join(root, rel);
  for (const entry of (await readdir(p, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) await hashTree(hash, root, child);
    else if (entry.isSymbolicLink()) hash.update(`link ${child}\0${await readlink(path.join(root, child))}\0`);
    else hash.update(`file ${child}\0`).update(await readFile(path.join(root, child))).update('\0');
  }
}

/**
 * What the image is made of: every file of the build context (a superset of what .dockerignore lets
 * through) and the node the base images are assembled from.
 */
async function imageKey(context: string): Promise<string> {
  const hash = createHash('sha256').update(`${process.execPath}\0${process.version}\0`);
  for (const entry of CONTEXT_ENTRIES) {
    const s = await lstat(path.join(context, entry)).catch(() => undefined);
    if (s?.isDirectory()) await hashTree(hash, context, entry);
    else if (s) hash.update(`file ${entry}\0`).update(await readFile(path.join(context, entry))).update('\0');
  }
  return hash.digest('hex').slice(0, 24);
}

/**
 * The Berth image built from `context` on `bases` with no build argument, tagged `tag`. The compose
 * stacks and the chart test run this image but do not test how it is built (docker-image.test.ts
 * does, and builds its own): within one run, the first of them builds it and saves it, and the
 * others load it instead of building the same layers again. Outside such a run it is always built.
 */
export async function berthImageFromContext(dockerd: Dockerd, context: string, bases: BaseImages, tag: string): Promise<'built' | 'loaded'> {
  const dir = process.env[IMAGE_CACHE_ENV];
  if (!dir || !existsSync(dir)) {
    await buildBerthImage(dockerd, context, bases, tag);
    return 'built';
  }
  const key = await imageKey(context);
  const saved = path.join(dir, `berth-${key}.tar`);
  const cacheTag = `berth-image-cache:${key}`;
  if (existsSync(saved)) {
    await dockerd.docker(['load', '-i', saved], 600_000);
    await dockerd.docker(['tag', cacheTag, tag]);
    await dockerd.docker(['rmi', cacheTag]);
    return 'loaded';
  }
  await buildBerthImage(dockerd, context, bases, tag);
  // Under a name of this process's, renamed whole: a reader never loads a half-written archive.
  const partial = `${saved}.${process.pid}.tmp`;
  try {
    await dockerd.docker(['tag', tag, cacheTag]);
    await dockerd.docker(['save', '-o', partial, cacheTag], 600_000);
    await rename(partial, saved);
  } finally {
    await rm(partial, { force: true });
    await dockerd.docker(['rmi', cacheTag]).catch(() => undefined);
  }
  return 'built';
}
