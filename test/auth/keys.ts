import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { createCertificate } from '../../auth/x509';

export function rsaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}
export function ecKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

export interface Signer {
  key: KeyObject;
  cert: X509Certificate;
}

export function selfSigned(key: KeyObject, subject = 'test signer'): Signer {
  return { key, cert: new X509Certificate(createCertificate({ subjectKey: key, subject })) };
}

export function issued(key: KeyObject, issuer: Signer, opts: { subject?: string; ca?: boolean; notAfter?: Date; notBefore?: Date } = {}): Signer {
  const der = createCertificate({
    subjectKey: key,
    subject: opts.subject ?? 'leaf',
    issuerKey: issuer.key,
    issuer: issuer.cert.subject.replace(/^CN=/, ''),
    ca: opts.ca ?? false,
    notAfter: opts.notAfter,
    notBefore: opts.notBefore,
  });
  return { key, cert: new X509Certificate(der) };
}

/** Signs registry-token claims (defaults: iss berth, aud berth, valid for 5 minutes). */
export function sign(
  key: KeyObject,
  payload: Record<string, unknown>,
  header: Record<string, unknown>,
  alg: jwt.Algorithm = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256',
): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: 'berth', aud: 'berth', sub: 'alice', iat: now, nbf: now, exp: now + 300, access: [], ...payload };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  return jwt.sign(claims, key, {
    algorithm: alg,
    header: { alg, typ: 'JWT', ...header },
  });
}

export const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
