import type { KeyObject, webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, importX509, type CompactJWSHeaderParameters, type JWK } from 'jose';
import { LRUCache } from 'lru-cache';
import { checkValidity, UntrustedKey, verifiedPath } from './cert-chain';
import { algorithmsFor, libtrustKeyId, publicJwk } from './keys';
import { toPem, type Certificate } from './x509';

export { UntrustedKey } from './cert-chain';

type VerifyKey = webcrypto.CryptoKey | Uint8Array;

/** A trusted public key, imported once per algorithm it may verify (WebCrypto binds an RSA key to one hash). */
class TrustedKey {
  private readonly imported = new Map<string, Promise<VerifyKey>>();
  private constructor(
    private readonly algorithms: string[],
    private readonly load: (alg: string) => Promise<VerifyKey>,
  ) {}

  static ofJwk(jwk: JWK): TrustedKey {
    return new TrustedKey(algorithmsFor(jwk), (alg) => importJWK(jwk, alg));
  }

  static ofCertificate(cert: Certificate): TrustedKey {
    return new TrustedKey(algorithmsFor(publicJwk(new Uint8Array(cert.publicKey.rawData))), (alg) => importX509(toPem(cert), alg));
  }

  forAlgorithm(alg: string): Promise<VerifyKey> {
    if (!this.algorithms.includes(alg)) throw new UntrustedKey(`algorithm ${alg.slice(0, 20)} does not fit the key`);
    let key = this.imported.get(alg);
    if (!key) this.imported.set(alg, (key = this.load(alg)));
    return key;
  }
}

/** A verified x5c path, kept so that requests with the same header do not rebuild it. */
interface VerifiedChain {
  path: Certificate[];
  leaf: TrustedKey;
}

/**
 * Keys trusted to sign tokens: certificates from a bundle (their keys, and the x5c chains they
 * anchor), JWKS keys, and the built-in server's own key. `resolve` is jose's key resolver: a token
 * names its key by `x5c` (a chain verified up to a trusted certificate), by `jwk` (accepted only
 * when it is one of the trusted keys) or by `kid`: a JWKS kid, an RFC 7638 thumbprint or a libtrust
 * key id. The algorithm is pinned to the key's type.
 */
export class TrustStore {
  private readonly byKid = new Map<string, TrustedKey>();
  private readonly anchors: Certificate[] = [];
  private readonly chains = new LRUCache<string, VerifiedChain>({ max: 256 });

  constructor(private readonly now: () => number = Date.now) {}

  async addKey(key: KeyObject | JWK, kid?: string): Promise<void> {
    const jwk = publicJwk(key);
    const entry = TrustedKey.ofJwk(jwk);
    if (kid !== undefined) this.byKid.set(kid, entry);
    this.byKid.set(await calculateJwkThumbprint(jwk), entry);
    this.byKid.set(libtrustKeyId(jwk), entry);
  }

  async addCertificate(cert: Certificate): Promise<void> {
    this.anchors.push(cert);
    this.chains.clear();
    await this.addKey(publicJwk(new Uint8Array(cert.publicKey.rawData)));
  }

  get size(): number {
    return this.anchors.length + this.byKid.size;
  }

  private async chainKey(x5c: unknown, alg: string): Promise<VerifyKey> {
    const id = Array.isArray(x5c) ? x5c.join('.') : '';
    const cached = this.chains.get(id);
    if (cached) {
      // Certificates expire while their path is cached.
      checkValidity(cached.path, this.now());
      return cached.leaf.forAlgorithm(alg);
    }
    const path = await verifiedPath(x5c, this.anchors, this.now());
    const chain = { path, leaf: TrustedKey.ofCertificate(path[0]) };
    this.chains.set(id, chain);
    return chain.leaf.forAlgorithm(alg);
  }

  /** The verification key a JWS protected header designates (jose's getKey), or UntrustedKey. */
  readonly resolve = async (header: CompactJWSHeaderParameters): Promise<VerifyKey> => {
    const alg = header.alg;
    if (header.x5c !== undefined) return this.chainKey(header.x5c, alg);
    if (header.jwk !== undefined) {
      // An embedded key proves nothing by itself; it counts only as a way to name a trusted key.
      let thumbprint: string;
      try {
        thumbprint = await calculateJwkThumbprint(header.jwk);
      } catch {
        throw new UntrustedKey('malformed jwk header');
      }
      const trusted = this.byKid.get(thumbprint);
      if (!trusted) throw new UntrustedKey('embedded jwk is not a trusted key');
      return trusted.forAlgorithm(alg);
    }
    if (typeof header.kid === 'string') {
      const trusted = this.byKid.get(header.kid);
      if (!trusted) throw new UntrustedKey('unknown kid');
      return trusted.forAlgorithm(alg);
    }
    throw new UntrustedKey('token names no key (kid, jwk or x5c)');
  };
}
