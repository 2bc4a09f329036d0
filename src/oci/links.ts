import type { DeleteOptions, PutContentOptions, StorageDriver } from '../../storage-drivers/types';
import { isNotFound, PathExistsError } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from './digest';

/** Reads a Distribution link file ("sha256:…"); null when it does not exist. */
export async function readLink(driver: StorageDriver, path: string): Promise<Digest | null> {
  return (await readLinkAsStored(driver, path))?.digest ?? null;
}

/** A link's digest and its bytes as stored (Distribution's, or a hand-edited one, may differ from Berth's). */
export async function readLinkAsStored(driver: StorageDriver, path: string): Promise<{ digest: Digest; bytes: Buffer } | null> {
  try {
    const bytes = await driver.getContent(path);
    return { digest: parseDigest(bytes.toString('utf8').trim()), bytes };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export function writeLink(driver: StorageDriver, path: string, d: Digest, opts?: PutContentOptions): Promise<void> {
  return driver.putContent(path, Buffer.from(d.value), opts);
}

/**
 * Writes `data` unless a committed file is at path; true when it wrote. For content that is the
 * same whoever writes it: one request on S3 (a conditional PUT) where a stat and then a write are two.
 */
export async function putIfAbsent(driver: StorageDriver, path: string, data: Uint8Array, opts?: PutContentOptions): Promise<boolean> {
  try {
    await driver.putContent(path, data, { ...opts, ifAbsent: true });
    return true;
  } catch (err) {
    if (err instanceof PathExistsError) return false;
    throw err;
  }
}

/**
 * Size of the committed file at path, or null when there is none. For links, blob data and state
 * files: one request on S3, where sizeOf of an absent key costs three.
 */
export async function fileSize(driver: StorageDriver, path: string): Promise<number | null> {
  return (await driver.statFile(path))?.size ?? null;
}

export async function isFile(driver: StorageDriver, path: string): Promise<boolean> {
  return (await driver.statFile(path)) !== null;
}

/** Size of what is at path, uncommitted uploads included, or null when absent or a directory. */
export async function sizeOf(driver: StorageDriver, path: string): Promise<number | null> {
  try {
    const info = await driver.stat(path);
    return info.isDir ? null : info.size;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Whether anything is at path: a file, a directory, an upload in progress. */
export async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Deletes path, treating "already gone" as success (deletes race with each other and with GC). */
export async function deleteIfExists(driver: StorageDriver, path: string, opts?: DeleteOptions): Promise<boolean> {
  try {
    await driver.delete(path, opts);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Direct children's names (not full paths); empty when the directory does not exist. */
export async function listNames(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return (await driver.list(path)).map((p) => p.slice(p.lastIndexOf('/') + 1));
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
