import type { MirrorConfig } from '../config/mirror-schema';
import { readCertificateBundle } from '../tls/tls-files';

/**
 * Each mirror's `ca` bundle, read and parsed, by prefix. At start-up (and by `config check`), so that
 * a missing or damaged file stops the process naming its key rather than failing every pull later.
 */
export async function readMirrorCas(mirrors: readonly MirrorConfig[]): Promise<Map<string, string>> {
  const cas = new Map<string, string>();
  for (const [i, m] of mirrors.entries()) if (m.ca !== undefined) cas.set(m.prefix, await readCertificateBundle(`mirrors.${i}.ca`, m.ca));
  return cas;
}
