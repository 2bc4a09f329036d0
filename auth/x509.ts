import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { publicOf } from './keys';

/**
 * A minimal DER writer for X.509 certificates: Node can parse certificates but not make them, and
 * the token server needs one for its `x5c` header (and for Distribution's `rootcertbundle`).
 */
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, body: Buffer) => tlv(0xa0 + n, body);
const nul = () => Buffer.from([0x05, 0x00]);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));

function signatureAlgorithm(key: KeyObject): { der: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { der: seq(oid('1.2.840.113549.1.1.11'), nul()), hash: 'sha256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return { der: seq(oid('1.2.840.10045.4.3.3')), hash: 'sha384' };
    if (curve === 'secp521r1') return { der: seq(oid('1.2.840.10045.4.3.4')), hash: 'sha512' };
    return { der: seq(oid('1.2.840.10045.4.3.2')), hash: 'sha256' };
  }
  throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
}

export interface CertificateOptions {
  /** The certified public key (or its private key). */
  subjectKey: KeyObject;
  subject: string;
  /** The signer; defaults to a self-signed certificate (subjectKey must then be private). */
  issuerKey?: KeyObject;
  issuer?: string;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
}

/** A DER certificate. */
export function createCertificate(opts: CertificateOptions): Buffer {
  const signer = opts.issuerKey ?? opts.subjectKey;
  if (signer.type !== 'private') throw new Error('the signing key must be private');
  const spki = publicOf(opts.subjectKey).export({ type: 'spki', format: 'der' });
  const alg = signatureAlgorithm(signer);
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = opts.notAfter ?? new Date(Date.now() + 10 * 365 * 86_400_000);
  const ca = opts.ca ?? opts.issuerKey === undefined;
  // BIT STRING bodies (unused-bit count first): digitalSignature, plus keyCertSign and cRLSign for a CA.
  const keyUsage = ca ? Buffer.from([0x01, 0x86]) : Buffer.from([0x07, 0x80]);
  const extensions = explicit(
    3,
    seq(
      seq(oid('2.5.29.19'), bool(true), octets(ca ? seq(bool(true)) : seq())),
      seq(oid('2.5.29.15'), bool(true), octets(tlv(0x03, keyUsage))),
    ),
  );
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    alg.der,
    name(opts.issuer ?? opts.subject),
    seq(time(notBefore), time(notAfter)),
    name(opts.subject),
    spki,
    extensions,
  );
  const signature = sign(alg.hash, tbs, signer);
  return seq(tbs, alg.der, bits(signature));
}

export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
