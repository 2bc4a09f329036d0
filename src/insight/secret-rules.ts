/*
 * The secrets insight looks for, as patterns over a file's first bytes or a config string. Each
 * pattern's first group is the secret (what the fingerprint hashes). Patterns follow the token
 * formats their issuers publish (GitHub's `ghp_`, GitLab's `glpat-`, npm's `npm_`, PyPI's macaroon
 * prefix, Slack's `xox?-`) so that ordinary text does not match; the path rules fire only for the
 * files those tools write, and only when the file holds a credential rather than a reference to one.
 */

export interface ContentRule {
  rule: string;
  /**
   * What every match contains, as a pattern source: most files contain no hint at all, and one
   * search for all of them (secret-scan.ts) rules those files out.
   */
  hint: string;
  pattern: RegExp;
  /** Only in content that also matches this (a GCP key file is JSON with this `type`). */
  requires?: RegExp;
}

export const CONTENT_RULES: readonly ContentRule[] = [
  {
    // PEM (PKCS#1, PKCS#8, SEC1, encrypted) and OpenSSH private keys; the secret is the key body.
    rule: 'private-key',
    hint: 'PRIVATE KEY',
    pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----([^-]{16,})/g,
  },
  { rule: 'aws-access-key-id', hint: 'AKIA|ASIA|ABIA|ACCA', pattern: /\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b/g },
  {
    rule: 'aws-secret-access-key',
    // Spelled out rather than a case-insensitive search: `i` made the one search of every text file
    // a third slower.
    hint: '[sS][eE][cC][rR][eE][tT]_?[aA][cC][cC][eE][sS][sS]',
    pattern: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi,
  },
  {
    rule: 'gcp-service-account',
    hint: 'private_key_id',
    pattern: /"private_key_id"\s*:\s*"([0-9a-f]{16,})"/g,
    requires: /"type"\s*:\s*"service_account"/,
  },
  { rule: 'github-token', hint: 'gh[pousr]_|github_pat_', pattern: /\b(gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,})\b/g },
  { rule: 'gitlab-token', hint: 'glpat-', pattern: /\b(glpat-[A-Za-z0-9_-]{20,})/g },
  { rule: 'npm-token', hint: 'npm_', pattern: /\b(npm_[A-Za-z0-9]{36})\b/g },
  { rule: 'pypi-token', hint: 'pypi-', pattern: /\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})/g },
  { rule: 'slack-token', hint: 'xox', pattern: /\b(xox[abposr]-[A-Za-z0-9-]{10,})/g },
  { rule: 'jwt', hint: 'eyJ', pattern: /\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})/g },
];

export interface PathRule {
  rule: string;
  /** Whether the rule applies to this normalised path. */
  applies: (path: string, base: string) => boolean;
  /** The credential in the file's first bytes; the file without one is not a finding. */
  pattern: RegExp;
}

// A value that names a variable (`${NPM_TOKEN}`) or is empty is how these files avoid a secret.
const VALUE = String.raw`["']?(?!\$\{?[A-Za-z_])([^\s"']+)`;

export const PATH_RULES: readonly PathRule[] = [
  {
    rule: 'dotenv',
    applies: (_path, base) => /^\.env(?:\.[\w.-]+)?$/.test(base) && !/\.(?:example|sample|template|dist)$/.test(base),
    pattern: new RegExp(String.raw`^[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*=[ \t]*` + VALUE, 'gm'),
  },
  {
    rule: 'npmrc-credentials',
    applies: (_path, base) => base === '.npmrc',
    pattern: new RegExp(String.raw`(?:_authToken|_auth|_password)[ \t]*=[ \t]*` + VALUE, 'g'),
  },
  {
    rule: 'pypirc-credentials',
    applies: (_path, base) => base === '.pypirc',
    pattern: new RegExp(String.raw`^[ \t]*password[ \t]*[=:][ \t]*` + VALUE, 'gm'),
  },
  {
    rule: 'docker-config-credentials',
    applies: (path) => path === '.docker/config.json' || path.endsWith('/.docker/config.json'),
    pattern: /"(?:auth|identitytoken)"\s*:\s*"([^"\s]+)"/g,
  },
  {
    rule: 'git-credentials',
    applies: (_path, base) => base === '.git-credentials',
    pattern: /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/gim,
  },
];

/** Environment or build-argument names whose value is a credential when set literally. */
export const CREDENTIAL_NAME = /(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)$/i;
