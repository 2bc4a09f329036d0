import { createPrivateKey, generateKeyPair, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createCertificate, derToPem } from './x509';
import type { SigningMaterial } from './token-issue';

const generate = promisify(generateKeyPair);

export const KEY_FILE = 'token.key';
export const CERT_FILE = 'token.crt';

export interface KeySource {
  /** Configured PEM files. */
  key?: string;
  certificate?: string;
  /** Where to keep a generated key; undefined: memory only. */
  directory?: string;
  keytype: 'rsa' | 'ec';
}

function fromPem(keyPem: string, certPem: string): SigningMaterial {
  const privateKey = createPrivateKey(keyPem);
  const cert = new X509Certificate(certPem);
  if (!cert.checkPrivateKey(privateKey)) throw new Error('the token certificate does not match the token key');
  return { privateKey, certificate: cert.raw };
}

async function fresh(keytype: 'rsa' | 'ec'): Promise<{ privateKey: KeyObject; certificate: Buffer }> {
  const { privateKey } =
    keytype === 'rsa' ? await generate('rsa', { modulusLength: 3072 }) : await generate('ec', { namedCurve: 'prime256v1' });
  return { privateKey, certificate: createCertificate({ subjectKey: privateKey, subject: 'berth token signer' }) };
}

/**
 * The token server's signing key and certificate: the configured files, else the pair kept in
 * `directory` (generated there on first start), else a pair that lives in memory only.
 * `generated` says whether a new pair was made.
 */
export async function loadSigningMaterial(src: KeySource): Promise<SigningMaterial & { generated: boolean; certificatePath?: string }> {
  if (src.key !== undefined && src.certificate !== undefined)
    return { ...fromPem(await readFile(src.key, 'utf8'), await readFile(src.certificate, 'utf8')), generated: false, certificatePath: src.certificate };
  if (src.directory === undefined) return { ...(await fresh(src.keytype)), generated: true };
  const keyPath = path.join(src.directory, KEY_FILE);
  const certPath = path.join(src.directory, CERT_FILE);
  try {
    return { ...fromPem(await readFile(keyPath, 'utf8'), await readFile(certPath, 'utf8')), generated: false, certificatePath: certPath };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(src.directory, { recursive: true, mode: 0o700 });
  const made = await fresh(src.keytype);
  try {
    // The certificate first: a reader that finds the key finds its certificate too.
    await writeFile(certPath, derToPem(made.certificate), { flag: 'wx', mode: 0o644 });
    await writeFile(keyPath, made.privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    // Another replica sharing the directory won the race: use its pair.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await new Promise((r) => setTimeout(r, 200));
    return { ...fromPem(await readFile(keyPath, 'utf8'), await readFile(certPath, 'utf8')), generated: false, certificatePath: certPath };
  }
  return { ...made, generated: true, certificatePath: certPath };
}
