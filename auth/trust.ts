import { X509Certificate, type KeyObject } from 'node:crypto';
import { jwkThumbprint, libtrustKeyId } from './keys';

const MAX_CHAIN = 8;

export class UntrustedKey extends Error {}

/**
 * Keys trusted to sign tokens: certificates from a bundle (their keys, and the x5c chains they
 * anchor), JWKS keys, and the built-in server's own key. A token names its key by `x5c` (verified
 * up to a trusted certificate) or by `kid`: a JWKS kid, an RFC 7638 thumbprint or a libtrust key id.
 */
export class TrustStore {
  private readonly byKid = new Map<string, KeyObject>();
  private readonly roots: X509Certificate[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  addKey(key: KeyObject, kid?: string): void {
    if (kid !== undefined) this.byKid.set(kid, key);
    this.byKid.set(jwkThumbprint(key), key);
    this.byKid.set(libtrustKeyId(key), key);
  }

  addCertificate(cert: X509Certificate): void {
    this.roots.push(cert);
    this.addKey(cert.publicKey);
  }

  get size(): number {
    return this.roots.length + this.byKid.size;
  }

  private current(cert: X509Certificate): boolean {
    const t = this.now();
    return Date.parse(cert.validFrom) <= t && t <= Date.parse(cert.validTo);
  }

  private verifyChain(x5c: unknown): KeyObject {
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN || !x5c.every((c) => typeof c === 'string'))
      throw new UntrustedKey('malformed x5c header');
    let chain: X509Certificate[];
    try {
      chain = x5c.map((c: string) => new X509Certificate(Buffer.from(c, 'base64')));
    } catch {
      throw new UntrustedKey('unparsable x5c certificate');
    }
    for (const cert of chain) if (!this.current(cert)) throw new UntrustedKey('x5c certificate outside its validity period');
    for (let i = 0; i + 1 < chain.length; i++) {
      const issuer = chain[i + 1];
      if (!issuer.ca || !chain[i].checkIssued(issuer) || !chain[i].verify(issuer.publicKey))
        throw new UntrustedKey(`x5c certificate ${i} is not signed by the next one`);
    }
    for (const cert of chain) {
      if (this.roots.some((root) => root.raw.equals(cert.raw))) return chain[0].publicKey;
    }
    const top = chain[chain.length - 1];
    const anchor = this.roots.find((root) => root.ca && this.current(root) && top.checkIssued(root) && top.verify(root.publicKey));
    if (!anchor) throw new UntrustedKey('x5c chain does not lead to a trusted certificate');
    return chain[0].publicKey;
  }

  /** The public key a JWS header designates, or UntrustedKey. */
  resolve(header: { kid?: unknown; x5c?: unknown }): KeyObject {
    if (header.x5c !== undefined) return this.verifyChain(header.x5c);
    if (typeof header.kid === 'string') {
      const key = this.byKid.get(header.kid);
      if (key) return key;
      throw new UntrustedKey('unknown kid');
    }
    throw new UntrustedKey('token names no key (kid or x5c)');
  }
}
