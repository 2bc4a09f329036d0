import { x509, type Certificate } from './x509';

export class UntrustedKey extends Error {}

/** Longer x5c headers are refused before any certificate is parsed. */
export const MAX_CHAIN = 8;

const ANY_PURPOSE = '2.5.29.37.0';
/**
 * Extended key usages under which a key may sign registry tokens. No EKU names token signing, and
 * token servers (docker_auth, Harbor) commonly sign with their TLS certificate, so server and client
 * authentication count, as does code signing; a certificate limited to e-mail, time-stamping or
 * OCSP responses (purposes other keys must not be borrowed for) or to unknown purposes does not.
 */
const SIGNING_PURPOSES: string[] = [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.codeSigning];

/** Throws unless every certificate of `path` is within its validity period at `now`. */
export function checkValidity(path: Certificate[], now: number): void {
  path.forEach((cert, i) => {
    if (now < cert.notBefore.getTime() || now > cert.notAfter.getTime()) throw new UntrustedKey(`x5c certificate ${i} outside its validity period`);
  });
}

const selfIssued = (cert: Certificate) => cert.subject === cert.issuer;

/**
 * RFC 5280 §6.1's checks of a path [leaf, …, trust anchor] whose signatures are verified: every
 * certificate within its validity; the leaf, if it has keyUsage, allows digitalSignature; every
 * issuer is a CA (basicConstraints cA), allows keyCertSign if it has keyUsage (as Go and OpenSSL,
 * a CA without keyUsage passes) and has no more non-self-issued intermediates below it than its
 * pathLenConstraint; and the extendedKeyUsages along the path (each one narrows what the
 * certificates below may do, as Go checks them) still leave a token signing purpose.
 */
export function checkPath(path: Certificate[], now: number): void {
  checkValidity(path, now);
  const leafUsage = path[0].getExtension(x509.KeyUsagesExtension);
  if (leafUsage && !(leafUsage.usages & x509.KeyUsageFlags.digitalSignature))
    throw new UntrustedKey('x5c leaf certificate: keyUsage does not allow digitalSignature');
  for (let i = 1; i < path.length; i++) {
    const constraints = path[i].getExtension(x509.BasicConstraintsExtension);
    if (!constraints?.ca) throw new UntrustedKey(`x5c certificate ${i} is not a CA (basicConstraints), so it cannot issue`);
    const usage = path[i].getExtension(x509.KeyUsagesExtension);
    if (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign)) throw new UntrustedKey(`x5c certificate ${i}: keyUsage does not allow keyCertSign`);
    const below = path.slice(1, i).filter((c) => !selfIssued(c)).length;
    if (constraints.pathLength !== undefined && below > constraints.pathLength)
      throw new UntrustedKey(`x5c certificate ${i}: pathLenConstraint ${constraints.pathLength} exceeded by ${below} intermediates`);
  }
  let purposes = SIGNING_PURPOSES;
  path.forEach((cert, i) => {
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    if (!eku || eku.usages.includes(ANY_PURPOSE)) return;
    purposes = purposes.filter((p) => eku.usages.includes(p));
    if (purposes.length === 0) throw new UntrustedKey(`x5c certificate ${i}: extendedKeyUsage does not allow signing tokens`);
  });
}

/**
 * The verified path from an x5c header's leaf to one of `anchors`: the chain is built (by issuer
 * name and signature, in any order, trusted certificates preferred) with @peculiar/x509 and then
 * held to checkPath. Throws UntrustedKey.
 */
export async function verifiedPath(x5c: unknown, anchors: Certificate[], now: number): Promise<Certificate[]> {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN || !x5c.every((c) => typeof c === 'string'))
    throw new UntrustedKey('malformed x5c header');
  let certs: Certificate[];
  try {
    certs = x5c.map((c: string) => new x509.X509Certificate(Buffer.from(c, 'base64')));
  } catch {
    throw new UntrustedKey('unparsable x5c certificate');
  }
  let chain: Certificate[];
  try {
    chain = [...(await new x509.X509ChainBuilder({ certificates: [...anchors, ...certs.slice(1)] }).build(certs[0]))];
  } catch (e) {
    throw new UntrustedKey(`x5c chain cannot be built: ${(e as Error).message}`);
  }
  const trusted = (c: Certificate) => anchors.some((a) => a.equal(c));
  const top = chain.findIndex(trusted);
  if (top < 0) throw new UntrustedKey('x5c chain does not lead to a trusted certificate');
  const path = chain.slice(0, top + 1);
  checkPath(path, now);
  return path;
}
