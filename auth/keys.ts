import { createHash, createPublicKey, KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

/** The public half (createPublicKey refuses a KeyObject that is already public). */
export function publicOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** The public key of a KeyObject, a JWK (private members are dropped) or a DER SubjectPublicKeyInfo. */
function publicKeyObject(key: KeyObject | JWK | Uint8Array): KeyObject {
  if (key instanceof Uint8Array) return createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
  if (key instanceof KeyObject) return publicOf(key);
  return createPublicKey({ key: key, format: 'jwk' });
}

export function spkiOf(key: KeyObject | JWK | Uint8Array): Buffer {
  return publicKeyObject(key).export({ type: 'spki', format: 'der' });
}

export function publicJwk(key: KeyObject | JWK | Uint8Array): JWK {
  return publicKeyObject(key).export({ format: 'jwk' });
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
 * SubjectPublicKeyInfo, first 240 bits, base32, in 12 groups of 4 joined by colons. No JOSE library
 * computes it: it is Docker's own format.
 */
export function libtrustKeyId(key: KeyObject | JWK | Uint8Array): string {
  const b32 = base32(createHash('sha256').update(spkiOf(key)).digest().subarray(0, 30));
  return b32.match(/.{4}/g)!.join(':');
}

export type SigningAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512';

/** Every algorithm a trusted key may use: asymmetric only, never HMAC or `none`. */
export const VERIFY_ALGORITHMS: SigningAlgorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

const CURVE_ALG: Record<string, SigningAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

/** The algorithms a public JWK may verify: pinned per key type (RS* for RSA, the curve's ES* for EC). */
export function algorithmsFor(jwk: JWK): SigningAlgorithm[] {
  if (jwk.kty === 'RSA') return ['RS256', 'RS384', 'RS512'];
  const alg = jwk.kty === 'EC' && jwk.crv !== undefined ? CURVE_ALG[jwk.crv] : undefined;
  return alg ? [alg] : [];
}

/** The algorithm the token server signs with for its key. */
export function signingAlgorithm(key: KeyObject): SigningAlgorithm {
  const algs = algorithmsFor(publicJwk(key));
  if (algs.length === 0) throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
  return algs[0];
}

/** The RSA and EC keys of a JWKS document (`{"keys":[…]}`), public halves only, with the `kid` each declares. */
export function parseJwks(text: string): Array<{ kid?: string; jwk: JWK }> {
  const doc = JSON.parse(text) as { keys?: JWK[] };
  if (!Array.isArray(doc.keys)) throw new Error('a JWKS needs a "keys" array');
  return doc.keys
    .filter((k) => k.kty === 'RSA' || k.kty === 'EC')
    .map((k) => ({ kid: typeof k.kid === 'string' ? k.kid : undefined, jwk: publicJwk(k) }));
}
