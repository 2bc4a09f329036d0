import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from '../oci/digest';
import { paths } from '../oci/paths';

/**
 * The manifest a tag named before `current`: of the digests in the tag's index (Distribution's
 * layout keeps one link per digest a tag has ever named, rewritten at each push of the tag), the
 * one written last other than `current`. Null for a tag pushed once, or whose earlier manifests
 * were deleted (a delete or a collection removes their index links).
 */
export async function previousTagDigest(driver: StorageDriver, name: string, tag: string, current: Digest): Promise<Digest | null> {
  let best: { digest: Digest; time: number } | null = null;
  try {
    for await (const info of driver.walk(paths.tagIndexDir(name, tag))) {
      if (info.isDir || !info.path.endsWith('/link')) continue;
      const digest = digestOf(info.path);
      if (digest === null || digest.value === current.value) continue;
      const time = info.modTime.getTime();
      if (best === null || time > best.time) best = { digest, time };
    }
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  return best?.digest ?? null;
}

/** The digest an index link's path names (`…/index/<algorithm>/<hex>/link`), or null for anything else. */
function digestOf(path: string): Digest | null {
  const [algorithm, hex] = path.split('/').slice(-3, -1);
  try {
    return parseDigest(`${algorithm}:${hex}`);
  } catch {
    return null;
  }
}
