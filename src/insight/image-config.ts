import type { Digest } from '../oci/digest';
import type { Registry } from '../oci/registry';
import type { ImageConfigStrings } from './config-secrets';

/** Configs are a few KiB; one larger than this is not read for secrets (nor kept in memory). */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/**
 * The image config of `name` as JSON, or null when it is missing, too large or not JSON: insight
 * reports on what it can read and the manifest PUT's own checks refuse what is invalid.
 */
export async function readImageConfig(registry: Registry, name: string, digest: Digest, signal?: AbortSignal): Promise<ImageConfigStrings | null> {
  let opened;
  try {
    opened = await registry.blobs.openWhole(name, digest, signal);
  } catch {
    return null;
  }
  const { info, stream } = opened;
  if (info.size > MAX_CONFIG_BYTES) {
    stream.destroy();
    return null;
  }
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_CONFIG_BYTES) return null;
      parts.push(chunk);
    }
    const parsed: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed) : null;
  } catch {
    return null;
  } finally {
    stream.destroy();
  }
}
