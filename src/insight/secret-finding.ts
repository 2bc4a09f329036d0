import { createHash } from 'node:crypto';

/** A secret found in a layer's file or in an image config; never the secret itself. */
export interface SecretFinding {
  /** The file's normalised path, or `config.Env[i]` / `config.history[i].created_by`. */
  path: string;
  rule: string;
  fingerprint: string;
}

// Below this length four characters would be a good share of the secret: they are masked too.
const SHOWN_PREFIX_MIN_LENGTH = 16;

/**
 * `rule:abcd…:sha256-prefix`: enough to tell two findings apart and to recognise a known secret
 * (hash it the same way), too little to use it. The four characters are mostly the token's public
 * prefix (`AKIA`, `ghp_`), which is what a reader needs to know what leaked.
 */
export function fingerprint(rule: string, secret: string): string {
  const shown = secret.length >= SHOWN_PREFIX_MIN_LENGTH ? secret.slice(0, 4) : '****';
  const hash = createHash('sha256').update(secret).digest('hex').slice(0, 16);
  return `${rule}:${shown}…:${hash}`;
}
