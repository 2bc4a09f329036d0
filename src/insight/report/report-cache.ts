import type { StorageDriver } from '../../../storage-drivers/types';
import { isNotFound } from '../../../storage-drivers/errors';
import type { Digest } from '../../oci/digest';
import { paths } from '../../oci/paths';
import type { ImageAnalysis } from './report-types';

/**
 * An image's merged analysis, as a previous report computed it, or null. Derived data: one that
 * does not parse, or was written by another version, is treated as absent and computed again
 * rather than failing the report. Storage faults propagate.
 */
export async function readCachedAnalysis(driver: StorageDriver, manifest: Digest): Promise<ImageAnalysis | null> {
  let bytes: Buffer;
  try {
    bytes = await driver.getContent(paths.insightImage(manifest));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  try {
    const analysis = JSON.parse(bytes.toString('utf8')) as ImageAnalysis;
    return analysis.version === 1 && analysis.manifest === manifest.value ? analysis : null;
  } catch {
    return null;
  }
}

/**
 * Not durable on purpose (no sync): losing it in a crash costs one merge. Records are written once
 * and never change, so the merge of the same records is the same whenever it is made.
 */
export async function writeCachedAnalysis(driver: StorageDriver, manifest: Digest, analysis: ImageAnalysis): Promise<void> {
  await driver.putContent(paths.insightImage(manifest), Buffer.from(JSON.stringify(analysis)), { durable: false });
}
