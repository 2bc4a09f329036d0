import { x509 } from './x509';

/** Which part of a client certificate names its user (src/config's `http.tls.clientidentity`). */
export type CertificateUserField = 'cn' | 'san-dns' | 'san-email' | 'san-uri';

const SAN_TYPE = { 'san-dns': 'dns', 'san-email': 'email', 'san-uri': 'url' } as const;

/**
 * The user a client certificate (DER) names in `field`: the subject's first CN, or the first subject
 * alternative name of that kind. Undefined when the certificate has none, or it cannot be parsed:
 * such a client is anonymous. The caller must only pass a certificate the TLS handshake verified.
 */
export function certificateUser(der: Uint8Array, field: CertificateUserField): string | undefined {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch {
    return undefined;
  }
  if (field === 'cn') return nonEmpty(cert.subjectName.getField('CN')[0]);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const name = san?.names.toJSON().find((n) => n.type === SAN_TYPE[field]);
  return nonEmpty(name?.value);
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
