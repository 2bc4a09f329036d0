// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API
// loaded before the library is.
import 'reflect-metadata';
import { webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { publicJwk, spkiOf } from './keys';

// Explicitly Node's WebCrypto, rather than whatever global the library would find.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type Certificate = x509.X509Certificate;

const CURVE_HASH: Record<string, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' };

/** A private KeyObject as the WebCrypto signing key @peculiar/x509 needs, with the hash to sign with. */
async function signingKey(key: KeyObject): Promise<{ key: webcrypto.CryptoKey; hash: string }> {
  const jwk = publicJwk(key);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  if (jwk.kty === 'RSA')
    return { key: await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']), hash: 'SHA-256' };
  const hash = jwk.kty === 'EC' && jwk.crv !== undefined ? CURVE_HASH[jwk.crv] : undefined;
  if (hash === undefined) throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
  return { key: await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: jwk.crv! }, false, ['sign']), hash };
}

export interface CertificateOptions {
  /** The certified public key (or its private key). */
  subjectKey: KeyObject;
  subject: string;
  /** The signer (private); defaults to subjectKey, for a self-signed certificate. */
  issuerKey?: KeyObject;
  issuer?: string;
  /** A CA (keyCertSign, cRLSign, and digitalSignature: it may sign tokens itself) or, by default, a signing leaf (digitalSignature). */
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * A certificate with RFC 5280's critical basicConstraints and keyUsage: what the token server sends
 * as `x5c` and operators hand to Distribution as its `rootcertbundle`.
 */
export async function createCertificate(opts: CertificateOptions): Promise<Certificate> {
  const signer = opts.issuerKey ?? opts.subjectKey;
  if (signer.type !== 'private') throw new Error('the signing key must be private');
  const { key, hash } = await signingKey(signer);
  const ca = opts.ca ?? false;
  const { digitalSignature, keyCertSign, cRLSign } = x509.KeyUsageFlags;
  const usage = ca ? digitalSignature | keyCertSign | cRLSign : digitalSignature;
  return x509.X509CertificateGenerator.create({
    subject: `CN=${opts.subject}`,
    issuer: `CN=${opts.issuer ?? opts.subject}`,
    publicKey: spkiOf(opts.subjectKey),
    signingKey: key,
    signingAlgorithm: { name: key.algorithm.name, hash } as never,
    notBefore: opts.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: opts.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(ca, undefined, true), new x509.KeyUsagesExtension(usage, true)],
  });
}

/** The DER bytes of a certificate. */
export function derOf(cert: Certificate): Buffer {
  return Buffer.from(cert.rawData);
}

export function toPem(cert: Certificate): string {
  return cert.toString('pem') + '\n';
}

/** Every certificate in a PEM bundle (other blocks, such as a private key, are skipped). */
export function parseCertificateBundle(pem: string): Certificate[] {
  return x509.PemConverter.decodeWithHeaders(pem)
    .filter((block) => block.type === x509.PemConverter.CertificateTag)
    .map((block) => new x509.X509Certificate(block.rawData));
}
