import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsConfig } from '../config/tls-schema';
import { opensslCiphers } from './cipher-suites';

/** A TLS file that cannot be used: the one-line message names the key. */
export class TlsSetupError extends Error {
  override readonly name = 'TlsSetupError';
}

export interface LoadedTls {
  /** Options for the listener's secure context. */
  options: SecureContextOptions;
  /** SHA-256 fingerprint of the served certificate, for the log. */
  fingerprint: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function read(key: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TlsSetupError(`${key}: cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
}

/** Every certificate of a PEM bundle, each parsed so a damaged one is reported here, not in the handshake. */
function certificates(key: string, file: string, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new TlsSetupError(`${key}: ${file} holds no PEM certificate`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new TlsSetupError(`${key}: ${file}: certificate ${i + 1} is not valid: ${(e as Error).message}`);
    }
  });
}

/** A PEM bundle of certificates (a CA file), read and each parsed; errors name `key`. */
export async function readCertificateBundle(key: string, file: string): Promise<string> {
  const pem = await read(key, file);
  certificates(key, file, pem);
  return pem;
}

function privateKey(key: string, file: string, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new TlsSetupError(`${key}: ${file} holds no usable PEM private key: ${(e as Error).message}`);
  }
}

/**
 * Reads and checks the configured files: each is named in the error (under `section`, e.g.
 * `http.tls`) when it is missing, is not PEM, or when key and certificate are not a pair. The same
 * call serves start-up and rotation.
 */
export async function loadTls(tls: TlsConfig, section: string): Promise<LoadedTls> {
  const certFile = tls.certificate!;
  const keyFile = tls.key!;
  const [certPem, keyPem, caPems] = await Promise.all([
    read(`${section}.certificate`, certFile),
    read(`${section}.key`, keyFile),
    Promise.all((tls.clientcas ?? []).map((f) => read(`${section}.clientcas`, f))),
  ]);
  const [leaf] = certificates(`${section}.certificate`, certFile, certPem);
  const key = privateKey(`${section}.key`, keyFile, keyPem);
  if (!leaf.checkPrivateKey(key)) throw new TlsSetupError(`${section}.key: ${keyFile} is not the key of the certificate in ${certFile} (${section}.certificate)`);
  (tls.clientcas ?? []).forEach((f, i) => certificates(`${section}.clientcas`, f, caPems[i]));

  const options: SecureContextOptions = {
    cert: certPem,
    key: keyPem,
    minVersion: tls.minimumtls === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ciphers: opensslCiphers(tls.ciphersuites),
    ...(caPems.length > 0 ? { ca: caPems } : {}),
  };
  try {
    // What OpenSSL itself refuses (a key too weak for its security level, say) is a start-up error too.
    createSecureContext(options);
  } catch (e) {
    throw new TlsSetupError(`${section}: ${certFile} and ${keyFile} cannot be served: ${(e as Error).message}`);
  }
  return { options, fingerprint: leaf.fingerprint256 };
}
