import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const blobDir = (root: string, hex: string) => join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex);

/**
 * Blob data written straight into a filesystem store under `root`, linked by no repository and
 * aged `ageMs` (what a collection weighs against its grace period): returns its digest.
 */
export async function writeOrphanBlob(root: string, ageMs: number, bytes = 100): Promise<string> {
  const data = randomBytes(bytes);
  const hex = createHash('sha256').update(data).digest('hex');
  await mkdir(blobDir(root, hex), { recursive: true });
  const file = join(blobDir(root, hex), 'data');
  await writeFile(file, data);
  const then = new Date(Date.now() - ageMs);
  await utimes(file, then, then);
  return `sha256:${hex}`;
}

/** Whether the store under `root` still holds the blob's data. */
export function blobDataExists(root: string, digest: string): Promise<boolean> {
  return access(join(blobDir(root, digest.slice('sha256:'.length)), 'data')).then(
    () => true,
    () => false,
  );
}
