import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

/** The public half (createPublicKey refuses a KeyObject that is already public). */
export function publicOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(data: Buffer): string {
  let out = '';
  let bitsLeft = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bitsLeft += 8;
    while (bitsLeft >= 5) {
      out += BASE32[(value >>> (bitsLeft - 5)) & 31];
      bitsLeft -= 5;
    }
    value &= (1 << bitsLeft) - 1;
  }
  if (bitsLeft > 0) out += BASE32[(value << (5 - bitsLeft)) & 31];
  return out;
}

/**
 * The key id docker/libtrust computes (Distribution 2.x, Harbor, docker_auth): SHA-256 of the DER
 * SubjectPublicKeyInfo, first 240 bits, base32, in 12 groups of 4 joined by colons.
 */
export function libtrustKeyId(key: KeyObject): string {
  const der = publicOf(key).export({ type: 'spki', format: 'der' });
  const b32 = base32(createHash('sha256').update(der).digest().subarray(0, 30));
  return b32.match(/.{4}/g)!.join(':');
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA or EC public key. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = publicOf(key).export({ format: 'jwk' }) as Record<string, string>;
  const members =
    jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : null;
  if (!members) throw new Error(`no thumbprint for key type ${jwk.kty}`);
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** The JWS algorithms a key may verify: pinned per key type, never HMAC or none. */
export function algorithmsFor(key: KeyObject): Array<'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512'> {
  if (key.asymmetricKeyType === 'rsa') return ['RS256', 'RS384', 'RS512'];
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return ['ES256'];
    if (curve === 'secp384r1') return ['ES384'];
    if (curve === 'secp521r1') return ['ES512'];
  }
  return [];
}

/** The algorithm the token server signs with for its key. */
export function signingAlgorithm(key: KeyObject): 'RS256' | 'ES256' | 'ES384' | 'ES512' {
  const algs = algorithmsFor(key);
  if (algs.length === 0) throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
  return algs[0] === 'RS256' ? 'RS256' : (algs[0] as 'ES256' | 'ES384' | 'ES512');
}

/** Every certificate in a PEM bundle. */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** The public keys of a JWKS document (`{"keys":[…]}`), with the `kid` each declares. */
export function parseJwks(text: string): Array<{ kid?: string; key: KeyObject }> {
  const doc = JSON.parse(text) as { keys?: Array<Record<string, unknown>> };
  if (!Array.isArray(doc.keys)) throw new Error('a JWKS needs a "keys" array');
  return doc.keys
    .filter((k) => k.kty === 'RSA' || k.kty === 'EC')
    .map((k) => {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = k;
      return { kid: typeof k.kid === 'string' ? k.kid : undefined, key: createPublicKey({ key: pub, format: 'jwk' }) };
    });
}
