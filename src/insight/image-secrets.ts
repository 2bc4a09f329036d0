import { findConfigSecrets, type ImageConfigStrings } from './config-secrets';
import type { LayerRecord } from './layer-records';
import type { SecretFinding } from './secret-finding';
import type { RepositorySecretPolicy } from './secret-policy';

/** A secret in one image, with where it ships. */
export interface ImageSecretFinding extends SecretFinding {
  /** The layer (index in the manifest's `layers`, and its digest) whose file holds it; absent for the config. */
  layer?: { index: number; digest: string };
  /** In the config (`Env`, `history`) rather than a layer's file. */
  inConfig?: true;
}

/**
 * An image's secrets: each layer's recorded findings, in layer order (a key that a later layer
 * deletes still ships in its layer, so it stays reported), then the config's, less what the
 * repository's allow-list lets through. `off` reports none.
 */
export function imageSecrets(
  layers: ReadonlyArray<{ digest: string; record: LayerRecord | null }>,
  config: ImageConfigStrings | null,
  policy: RepositorySecretPolicy,
): ImageSecretFinding[] {
  if (policy.mode === 'off') return [];
  const out: ImageSecretFinding[] = [];
  layers.forEach(({ digest, record }, index) => {
    for (const finding of record?.findings ?? []) if (!policy.allows(finding)) out.push({ ...finding, layer: { index, digest } });
  });
  if (config !== null) for (const finding of findConfigSecrets(config)) if (!policy.allows(finding)) out.push({ ...finding, inConfig: true });
  return out;
}

/** One line per finding, for a refusal's message and logs: never the secret, only its fingerprint. */
export function describeFinding(f: ImageSecretFinding): string {
  const where = f.layer ? `${f.path} in layer ${f.layer.index} (${f.layer.digest.slice(0, 19)})` : `${f.path} of the image config`;
  return `${where}: ${f.rule} (${f.fingerprint})`;
}
