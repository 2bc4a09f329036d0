import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from '../oci/digest';
import { deleteIfExists, isFile } from '../oci/links';
import { paths } from '../oci/paths';
import type { Findings } from './findings';

/** A file of a digest's insight directory: `…/layers/<algorithm>/<xx>/<hex>/<name>`. */
const INSIGHT_FILE = /\/layers\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/[^/]+$/;

/**
 * Insight left behind by its blob (docs/architecture.md, "Image insight: analysis in storage"):
 * garbage collection deletes a blob's analysis right after its data, but a collection that races an
 * analysis, or is killed between the two deletes, leaves a record, a file list or an image report
 * whose blob is gone. Harmless (content-addressed, used again if the blob comes back) but never
 * removed otherwise: repair deletes the directory once an hour old.
 */
export async function checkInsight(driver: StorageDriver, findings: Findings): Promise<void> {
  const strays: { digest: Digest; touched: number }[] = [];
  let current: { digest: Digest; touched: number } | undefined;
  const settle = async () => {
    if (current && !(await blobStored(driver, current.digest))) strays.push(current);
  };
  try {
    // Depth-first and lexical: a directory's files come together.
    for await (const info of driver.walk(paths.insightLayersRoot)) {
      const m = info.isDir ? null : INSIGHT_FILE.exec(info.path);
      if (!m) continue;
      let digest: Digest;
      try {
        digest = parseDigest(`${m[1]}:${m[2]}`);
      } catch {
        continue; // not a directory Berth could have written
      }
      if (current?.digest.value !== digest.value) {
        await settle();
        current = { digest, touched: 0 };
      }
      current.touched = Math.max(current.touched, info.modTime.getTime());
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await settle();
  for (const { digest, touched } of strays)
    await findings.add(
      { kind: 'stray-insight', path: paths.insightLayerDir(digest), detail: `the analysis of ${digest.value}, whose blob is gone` },
      { touched, run: () => deleteIfExists(driver, paths.insightLayerDir(digest)) },
    );
}

/** Whether the digest's data is stored: its own, or (sha512) through its alias. */
async function blobStored(driver: StorageDriver, d: Digest): Promise<boolean> {
  return (await isFile(driver, paths.blobData(d))) || (await isFile(driver, paths.blobAlias(d)));
}
