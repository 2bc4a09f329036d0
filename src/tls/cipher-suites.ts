/**
 * Distribution's `http.tls.ciphersuites` take Go's names; OpenSSL calls the same suites otherwise.
 * `null`: Distribution accepts the name but this OpenSSL has no such suite (3DES is compiled out),
 * so the configuration is refused rather than silently weakened or emptied.
 */
const GO_TO_OPENSSL: Readonly<Record<string, string | null>> = {
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: null,
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: null,
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // TLS 1.3 suites have the same names in both.
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
};

const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Distribution's list when none is configured: forward secrecy and AEAD only. */
const DEFAULT_SUITES = [
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  ...TLS13_SUITES,
];

/** Why `name` cannot be used, or undefined when it can. */
export function cipherSuiteProblem(name: string): string | undefined {
  if (!Object.hasOwn(GO_TO_OPENSSL, name)) return `unknown cipher suite "${name}" (expected a Go name such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`;
  if (GO_TO_OPENSSL[name] === null) return `cipher suite "${name}" is not available in this build's OpenSSL (3DES is disabled)`;
  return undefined;
}

/**
 * The OpenSSL cipher string for the configured Go names (Distribution's defaults when none). Go
 * never lets TLS 1.3 suites be restricted, so a list naming none of them keeps all three; a list
 * that names some restricts TLS 1.3 to those.
 */
export function opensslCiphers(names: readonly string[] | undefined): string {
  const chosen = names === undefined || names.length === 0 ? DEFAULT_SUITES : names;
  const withTls13 = chosen.some((n) => TLS13_SUITES.includes(n)) ? chosen : [...chosen, ...TLS13_SUITES];
  return withTls13.map((n) => GO_TO_OPENSSL[n]!).join(':');
}
