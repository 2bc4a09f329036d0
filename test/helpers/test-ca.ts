import { KeyObject, webcrypto } from 'node:crypto';
import { x509 } from '../../auth/x509';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const { digitalSignature, keyCertSign, cRLSign } = x509.KeyUsageFlags;

/** A certificate made in a test, with its key, both PEM. */
export interface Issued {
  name: string;
  cert: x509.X509Certificate;
  certPem: string;
  keyPem: string;
  keys: webcrypto.CryptoKeyPair;
  /** Colon-separated upper-case SHA-256, as Node's X509Certificate.fingerprint256 and a peer certificate show it. */
  fingerprint256: string;
}

export interface IssueOptions {
  /** serverAuth with SANs for localhost and 127.0.0.1 (default), or clientAuth. */
  usage?: 'server' | 'client';
  notBefore?: Date;
  notAfter?: Date;
  /** More IP addresses for a server's SANs. */
  ips?: string[];
  /** Subject alternative names of a client certificate (a server's are localhost, 127.0.0.1 and `ips`). */
  san?: Array<{ type: 'dns' | 'email' | 'url'; value: string }>;
}

/** A certificate for a new P-256 key with exactly these extensions, signed by `issuer` (self-signed without one). */
export async function createCertificate(name: string, extensions: x509.Extension[], issuer?: Issued, validity: Pick<IssueOptions, 'notBefore' | 'notAfter'> = {}): Promise<Issued> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${name}`,
    issuer: `CN=${issuer?.name ?? name}`,
    publicKey: keys.publicKey as never,
    signingKey: (issuer?.keys ?? keys).privateKey as never,
    signingAlgorithm: ALG,
    notBefore: validity.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: validity.notAfter ?? new Date(Date.now() + 86_400_000),
    extensions,
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  const fingerprint256 = Buffer.from(await cert.getThumbprint('SHA-256')).toString('hex').toUpperCase().match(/../g)!.join(':');
  return { name, cert, certPem: cert.toString('pem') + '\n', keyPem, keys, fingerprint256 };
}

/** A self-signed root CA. */
export function createCa(name: string): Promise<Issued> {
  return createCertificate(name, [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(keyCertSign | cRLSign | digitalSignature, true)]);
}

/** A leaf for a TLS server on this machine, or a client, signed by `ca`. */
export function issue(ca: Issued, name: string, opts: IssueOptions = {}): Promise<Issued> {
  const server = (opts.usage ?? 'server') === 'server';
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
  ];
  if (server)
    extensions.push(
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
      ]),
    );
  else if (opts.san !== undefined) extensions.push(new x509.SubjectAlternativeNameExtension(opts.san));
  return createCertificate(name, extensions, ca, opts);
}
