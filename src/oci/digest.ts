import { createHash, type Hash } from 'node:crypto';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError } from './errors';

/** Algorithms Berth verifies, with the hex length of their encoded part. */
const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type Algorithm = keyof typeof ALGORITHMS;

export interface Digest {
  algorithm: Algorithm;
  hex: string;
  /** `algorithm:hex` */
  value: string;
}

// The grammar of image-spec descriptor.md: algorithm ":" encoded.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Parses a digest, throwing DIGEST_INVALID (400) for malformed or unsupported ones. */
export function parseDigest(value: string): Digest {
  if (typeof value !== 'string' || !DIGEST_GRAMMAR.test(value))
    throw new DomainError('digest-invalid', { digest: String(value) }, 'invalid digest format');
  const sep = value.indexOf(':');
  const algorithm = value.slice(0, sep);
  const hex = value.slice(sep + 1);
  if (!isAlgorithm(algorithm))
    throw new DomainError('digest-invalid', { digest: value }, `unsupported digest algorithm "${algorithm}"`);
  if (hex.length !== ALGORITHMS[algorithm] || !/^[a-f0-9]+$/.test(hex))
    throw new DomainError('digest-invalid', { digest: value }, `invalid ${algorithm} digest`);
  return { algorithm, hex, value };
}

export function isAlgorithm(value: string): value is Algorithm {
  return Object.hasOwn(ALGORITHMS, value);
}

/** An algorithm Berth verifies (as `digest-algorithm=` names it); DIGEST_INVALID (400) otherwise. */
export function parseAlgorithm(value: string): Algorithm {
  if (!isAlgorithm(value))
    throw new DomainError('digest-invalid', { algorithm: value.slice(0, 100) }, `unsupported digest algorithm "${value.slice(0, 100)}"`);
  return value;
}

export function isDigest(value: string): boolean {
  return value.includes(':');
}

export function createDigester(algorithm: Algorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array, algorithm: Algorithm = 'sha256'): Digest {
  const hex = createHash(algorithm).update(data).digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

/** Streams `source` through a hash per algorithm (never holding it); the hex digests by algorithm. */
export async function hashStream(source: Readable, algorithms: Algorithm[]): Promise<Partial<Record<Algorithm, string>>> {
  const hashes = algorithms.map((a) => createDigester(a));
  await pipeline(
    source,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const h of hashes) h.update(chunk);
        cb();
      },
    }),
  );
  return Object.fromEntries(algorithms.map((a, i) => [a, hashes[i].digest('hex')]));
}
