import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { createCertificate, derOf, toPem, type Certificate } from '../../auth/x509';

export function rsaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}
export function ecKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

export interface Signer {
  key: KeyObject;
  cert: Certificate;
  /** The certificate as an x5c entry. */
  x5c: string;
  pem: string;
}

const signer = (key: KeyObject, cert: Certificate): Signer => ({ key, cert, x5c: derOf(cert).toString('base64'), pem: toPem(cert) });

/** A self-signed CA (it may also sign tokens itself: digitalSignature as well as keyCertSign). */
export async function selfSigned(key: KeyObject, subject = 'test signer'): Promise<Signer> {
  return signer(key, await createCertificate({ subjectKey: key, subject, ca: true }));
}

export async function issued(key: KeyObject, issuer: Signer, opts: { subject?: string; ca?: boolean; notAfter?: Date; notBefore?: Date } = {}): Promise<Signer> {
  const cert = await createCertificate({
    subjectKey: key,
    subject: opts.subject ?? 'leaf',
    issuerKey: issuer.key,
    issuer: issuer.cert.subject.replace(/^CN=/, ''),
    ca: opts.ca ?? false,
    notAfter: opts.notAfter,
    notBefore: opts.notBefore,
  });
  return signer(key, cert);
}

/** Signs registry-token claims (defaults: iss berth, aud berth, valid for 5 minutes). */
export function sign(
  key: KeyObject | Uint8Array,
  payload: Record<string, unknown>,
  header: Record<string, unknown>,
  alg: string = key instanceof Uint8Array ? 'HS256' : key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256',
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: 'berth', aud: 'berth', sub: 'alice', iat: now, nbf: now, exp: now + 300, access: [], ...payload };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

/** An HS256 token whose "secret" is `secret` (a public key, as an alg-confusion attack would use). */
export function signHmac(secret: string | Buffer, payload: Record<string, unknown>, header: Record<string, unknown>): Promise<string> {
  return sign(typeof secret === 'string' ? Buffer.from(secret) : secret, payload, header, 'HS256');
}

export const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
