import { createPrivateKey, generateKeyPair } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isExists, isNotFound } from '../storage-drivers/errors';
import type { StorageDriver } from '../storage-drivers/types';
import { spkiOf } from './keys';
import type { SigningMaterial } from './token-issue';
import { createCertificate, derOf, parseCertificateBundle, toPem, x509 } from './x509';

const generate = promisify(generateKeyPair);

/** The file names an earlier Berth generated into `keydirectory`. */
const LEGACY_KEY = 'token.key';
const LEGACY_CERT = 'token.crt';

export interface KeyStorage {
  driver: StorageDriver;
  /** The private key followed by its certificate, in one object so that readers never see half a pair. */
  keyPath: string;
  /** The certificate alone, for operators (Distribution's `rootcertbundle`). */
  certificatePath: string;
  /** storage.maintenance.readonly: the key is loaded, never written. */
  readOnly: boolean;
  /** `keydirectory`, where an earlier Berth generated the pair on disk: migrated into storage. */
  legacyDirectory?: string;
}

export interface KeySource {
  /** Configured PEM files. */
  key?: string;
  certificate?: string;
  /** Where a generated pair is kept; absent: memory only. */
  storage?: KeyStorage;
  keytype: 'rsa' | 'ec';
}

export type LoadedMaterial = SigningMaterial & {
  /** Whether a new pair was made (and, with storage, won). */
  generated: boolean;
  /** Where the pair came from, for the log. */
  origin: string;
  /** Read from `keydirectory` (and, unless read-only, copied into storage). */
  migrated?: boolean;
};

/** A refusal an operator must act on (read-only storage without a key). */
export class KeyStoreError extends Error {}

function fromPem(keyPem: string, certPem: string): SigningMaterial {
  const privateKey = createPrivateKey(keyPem);
  const [cert] = parseCertificateBundle(certPem);
  if (cert === undefined) throw new Error('no certificate for the token key');
  if (!spkiOf(privateKey).equals(Buffer.from(cert.publicKey.rawData))) throw new Error('the token certificate does not match the token key');
  return { privateKey, certificate: derOf(cert) };
}

async function fresh(keytype: 'rsa' | 'ec'): Promise<SigningMaterial> {
  const { privateKey } =
    keytype === 'rsa' ? await generate('rsa', { modulusLength: 3072 }) : await generate('ec', { namedCurve: 'prime256v1' });
  return { privateKey, certificate: derOf(await createCertificate({ subjectKey: privateKey, subject: 'berth token signer' })) };
}

const certificatePem = (m: SigningMaterial) => toPem(new x509.X509Certificate(m.certificate));

async function getText(driver: StorageDriver, p: string): Promise<string | undefined> {
  try {
    return (await driver.getContent(p)).toString('utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * The stored pair. The key object carries its certificate; one written by Berth before the key went
 * through the storage driver holds the key alone, its certificate beside it (the filesystem layout
 * `<rootdirectory>/berth/auth/token.{key,crt}`, which is where these paths lead).
 */
async function readStored(s: KeyStorage): Promise<SigningMaterial | undefined> {
  const keyPem = await getText(s.driver, s.keyPath);
  if (keyPem === undefined) return undefined;
  if (keyPem.includes('-----BEGIN CERTIFICATE-----')) return fromPem(keyPem, keyPem);
  const certPem = await getText(s.driver, s.certificatePath);
  if (certPem === undefined) throw new Error(`${s.keyPath} has no certificate and ${s.certificatePath} is missing`);
  return fromPem(keyPem, certPem);
}

async function readLegacy(dir: string): Promise<SigningMaterial | undefined> {
  try {
    return fromPem(await readFile(path.join(dir, LEGACY_KEY), 'utf8'), await readFile(path.join(dir, LEGACY_CERT), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const pairPem = (m: SigningMaterial) => Buffer.from((m.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) + certificatePem(m));

/**
 * Generates a pair and stores it, unless a replica sharing the storage stored one first: the key is
 * created exclusively, so of replicas racing on a fresh store exactly one pair is kept and every
 * process signs with it.
 */
async function generateInto(s: KeyStorage, keytype: 'rsa' | 'ec'): Promise<{ material: SigningMaterial; generated: boolean }> {
  const made = await fresh(keytype);
  if (await storeIfAbsent(s, made)) return { material: made, generated: true };
  const won = await readStored(s);
  if (!won) throw new Error(`${s.keyPath} exists but could not be read back`);
  return { material: won, generated: false };
}

/**
 * The token server's signing key and certificate: the configured files; else the pair kept in
 * storage (generated there on first start, or migrated from `keydirectory`); else, without
 * storage, a pair that lives in memory only. In read-only mode nothing is written, and a missing
 * pair is a KeyStoreError.
 */
export async function loadSigningMaterial(src: KeySource): Promise<LoadedMaterial> {
  if (src.key !== undefined && src.certificate !== undefined)
    return { ...fromPem(await readFile(src.key, 'utf8'), await readFile(src.certificate, 'utf8')), generated: false, origin: src.key };
  const s = src.storage;
  if (s === undefined) return { ...(await fresh(src.keytype)), generated: true, origin: '(memory only: tokens die with this process)' };
  const stored = await readStored(s);
  if (stored) return { ...stored, generated: false, origin: s.keyPath };
  const legacy = s.legacyDirectory === undefined ? undefined : await readLegacy(s.legacyDirectory);
  if (legacy) {
    if (!s.readOnly) {
      await storeIfAbsent(s, legacy);
      await publishCertificate(s, legacy);
    }
    return { ...legacy, generated: false, origin: path.join(s.legacyDirectory!, LEGACY_KEY), migrated: true };
  }
  if (s.readOnly)
    throw new KeyStoreError(
      `auth.token.server: no signing key in storage at ${s.keyPath} and storage.maintenance.readonly is on: start once without read-only mode, or set auth.token.server.key and certificate`,
    );
  const { material, generated } = await generateInto(s, src.keytype);
  await publishCertificate(s, material);
  return { ...material, generated, origin: s.keyPath };
}

/** Keeps the operators' copy of the certificate in step with the key (replicas that raced agree on it). */
async function publishCertificate(s: KeyStorage, m: SigningMaterial): Promise<void> {
  const pem = certificatePem(m);
  if ((await getText(s.driver, s.certificatePath)) !== pem) await s.driver.putContent(s.certificatePath, Buffer.from(pem));
}

/**
 * Stores the pair unless a pair is stored already (a replica generating or migrating at the same
 * time got there first); whether this call stored it.
 */
async function storeIfAbsent(s: KeyStorage, m: SigningMaterial): Promise<boolean> {
  try {
    await s.driver.createExclusive(s.keyPath, pairPem(m), { private: true });
    return true;
  } catch (e) {
    if (isExists(e)) return false;
    throw e;
  }
}
