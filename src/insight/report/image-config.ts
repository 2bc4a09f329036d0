import type { Digest } from '../../oci/digest';
import type { BlobStore } from '../../oci/blobs';
import type { ImageConfigStrings } from '../config-secrets';

/** Larger configs are not read: real ones are a few KiB, a history of hundreds of steps under 1 MiB. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export interface ImageConfig extends ImageConfigStrings {
  history?: unknown;
}

/** The config's parts the report uses, or why it could not read them (the report goes on without). */
export type ConfigRead = { config: ImageConfig } | { config: null; error: string };

/**
 * Reads an image config blob of the repository, at most MAX_CONFIG_BYTES: the size is known before
 * a byte is read, and the read stops at the bound whatever the stream brings. BLOB_UNKNOWN (a config
 * a mirror has not fetched yet) propagates.
 */
export async function readImageConfig(blobs: BlobStore, repository: string, digest: Digest, signal?: AbortSignal): Promise<ConfigRead> {
  const { info, stream } = await blobs.openWhole(repository, digest, signal);
  if (info.size > MAX_CONFIG_BYTES) {
    stream.destroy();
    return { config: null, error: `the config is ${info.size} bytes, more than the ${MAX_CONFIG_BYTES} insight reads` };
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_CONFIG_BYTES) return { config: null, error: `the config is more than the ${MAX_CONFIG_BYTES} bytes insight reads` };
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  try {
    const doc: unknown = JSON.parse(Buffer.concat(chunks, total).toString('utf8'));
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { config: null, error: 'the config is not a JSON object' };
    return { config: doc };
  } catch {
    return { config: null, error: 'the config is not JSON' };
  }
}
