import { findInText } from './secret-scan';
import { fingerprint, type SecretFinding } from './secret-finding';
import { CREDENTIAL_NAME } from './secret-rules';

/** The parts of an image config (image-spec config.md) that secrets leak into. */
export interface ImageConfigStrings {
  config?: { Env?: unknown } | null;
  history?: unknown;
}

// NAME=value in `ENV`, in `RUN |2 NAME=value ...` (how build arguments show in history) and in Env.
const ASSIGNMENT = /(?:^|[\s|])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s"']+)/g;

/**
 * Secrets in an image config's `Env` and in its `history[].created_by`: the token formats of the
 * file rules, and credentials set literally under a credential-like name (`DB_PASSWORD=hunter2`,
 * not `DB_PASSWORD=$FROM_SECRET` nor an empty one). Anything else in the config is ignored.
 */
export function findConfigSecrets(config: ImageConfigStrings): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const env = config.config?.Env;
  if (Array.isArray(env))
    env.forEach((value, i) => {
      if (typeof value === 'string') findings.push(...findInString(`config.Env[${i}]`, value));
    });
  if (Array.isArray(config.history))
    config.history.forEach((entry: unknown, i) => {
      const createdBy = (entry as { created_by?: unknown } | null)?.created_by;
      if (typeof createdBy === 'string') findings.push(...findInString(`config.history[${i}].created_by`, createdBy));
    });
  return findings;
}

function findInString(path: string, text: string): SecretFinding[] {
  const findings = findInText(path, text);
  const seen = new Set<string>();
  for (const match of text.matchAll(ASSIGNMENT)) {
    const [, name, quoted] = match;
    const value = quoted.replace(/^(["'])(.*)\1$/, '$2');
    if (!CREDENTIAL_NAME.test(name) || value === '' || value.startsWith('$') || seen.has(value)) continue;
    seen.add(value);
    // A value a token rule already named is reported under that rule, not twice.
    if (findInText(path, value).length > 0) continue;
    findings.push({ path, rule: 'credential-variable', fingerprint: fingerprint('credential-variable', value) });
  }
  return findings;
}
