import { DomainError, isDomainError } from '../oci/errors';
import type { Digest } from '../oci/digest';
import type { ParsedManifest } from '../oci/manifest-parse';
import type { Registry } from '../oci/registry';
import { readImageConfig } from './report/image-config';
import { describeFinding, imageSecrets, type ImageSecretFinding } from './image-secrets';
import type { InsightServices } from './layer-analysis';
import type { LayerRecord } from './layer-records';

export interface PushCheck {
  registry: Registry;
  insight: InsightServices;
  name: string;
  /** The manifest as the PUT parsed it (validated, not yet stored). */
  manifest: ParsedManifest;
  signal?: AbortSignal;
}

/** Findings named in a refusal's message; the rest are counted. The detail lists more. */
const MESSAGE_FINDINGS = 5;
const DETAIL_FINDINGS = 50;

/**
 * `insight.secrets: deny`: before a manifest is stored, the image's layers' analyses (done while
 * they were uploaded, so usually already there) and its config are searched, and an image holding a
 * secret the allow-list does not let through is refused with DENIED, naming file, layer and rule.
 * Nothing of the manifest is stored then. An index is not searched: each of its images was checked
 * at its own PUT. Layers the repository does not hold are left to the PUT's own check (it refuses).
 * Analyses not done within insight.wait refuse the push as UNAVAILABLE (the client may push again),
 * or with `ontimeout: accept` let it through: `accepted` then names them.
 */
export async function checkPushSecrets(check: PushCheck): Promise<{ pending: string[] }> {
  const { registry, insight, name, signal } = check;
  const policy = insight.secrets.for(name);
  if (policy.mode !== 'deny') return { pending: [] };
  if (check.manifest.isIndex) return { pending: [] };
  const { config, layers } = check.manifest;
  const deadline = Date.now() + insight.config.wait;
  const records = await Promise.all(
    layers.map(async (digest) => {
      if (!(await isLinked(registry, name, digest))) return { digest: digest.value, record: null, linked: false };
      const record: LayerRecord | null = await insight.analysis.awaitRecord(digest, Math.max(0, deadline - Date.now()), signal);
      return { digest: digest.value, record, linked: true };
    }),
  );
  // A config it cannot read (missing, too large, not JSON) is searched by nothing; the PUT's own checks refuse a missing one.
  const configJson = config === undefined ? null : (await readImageConfig(registry.blobs, name, config, signal).catch(() => ({ config: null }))).config;
  const findings = imageSecrets(records, configJson, policy);
  if (findings.length > 0) throw refusal(findings);
  const pending = records.filter((r) => r.linked && r.record === null).map((r) => r.digest);
  if (pending.length > 0 && insight.config.ontimeout === 'refuse')
    throw new DomainError(
      'insight-pending',
      { layers: pending },
      `the secret search of ${pending.length} layer(s) did not finish within ${insight.config.wait / 1000} s (insight.secrets is deny for this repository); push again`,
    );
  return { pending };
}

async function isLinked(registry: Registry, name: string, digest: Digest): Promise<boolean> {
  try {
    await registry.blobs.stat(name, digest);
    return true;
  } catch (err) {
    if (isDomainError(err, 'blob-unknown')) return false;
    throw err;
  }
}

function refusal(findings: ImageSecretFinding[]): DomainError<'secrets-denied'> {
  const named = findings.slice(0, MESSAGE_FINDINGS).map(describeFinding).join('; ');
  const more = findings.length > MESSAGE_FINDINGS ? `; and ${findings.length - MESSAGE_FINDINGS} more` : '';
  return new DomainError(
    'secrets-denied',
    { findings: findings.slice(0, DETAIL_FINDINGS).map((f) => ({ path: f.path, rule: f.rule, fingerprint: f.fingerprint, layer: f.layer?.digest })) },
    `image refused: it ships ${findings.length} secret(s) (insight.secrets is deny for this repository): ${named}${more}`,
  );
}
