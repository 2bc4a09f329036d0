import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError } from './errors';
import { isAlgorithm, type Algorithm } from './digest';

/**
 * The `_state` query parameter of an upload's Location: who the upload belongs to, signed with the
 * shared secret so that any replica can trust it and none can be tricked into another repository's
 * session. Storage stays the source of truth for the offset.
 */
export interface UploadState {
  name: string;
  uuid: string;
  offset: number;
  startedAt: string;
  /** The digest algorithm the client declared when it started the upload (`digest-algorithm=`). */
  algorithm?: Algorithm;
}

export class UploadStateSigner {
  private readonly key: Buffer;

  constructor(secret: string | Buffer) {
    this.key = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  }

  pack(state: UploadState): string {
    const fields: unknown[] = [state.name, state.uuid, state.offset, state.startedAt];
    if (state.algorithm !== undefined) fields.push(state.algorithm);
    return this.sign(fields);
  }

  /** JSON fields with their HMAC: what else Berth hands out or stores and must trust back (hash-state.ts). */
  sign(fields: unknown[]): string {
    const body = Buffer.from(JSON.stringify(fields)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The fields of what sign() returned, or null when it is malformed or its HMAC does not match. */
  verify(token: string): unknown[] | null {
    const dot = token.indexOf('.');
    if (dot <= 0) return null;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      return Array.isArray(parsed) ? (parsed as unknown[]) : null;
    } catch {
      return null;
    }
  }

  /** Verifies the signature and that the token belongs to this name and uuid; a missing token is invalid. */
  unpack(token: string | undefined, name: string, uuid: string): UploadState {
    const invalid = () => new DomainError('upload-state-invalid', {}, 'blob upload invalid: bad upload state');
    if (token === undefined)
      throw new DomainError('upload-state-invalid', {}, 'blob upload invalid: no upload state (_state); use the Location of the last response');
    const parsed = this.verify(token);
    // Four fields in tokens without a declared algorithm (and in those of earlier versions).
    if (parsed === null || (parsed.length !== 4 && parsed.length !== 5)) throw invalid();
    const [n, u, offset, startedAt, algorithm] = parsed as [unknown, unknown, unknown, unknown, unknown];
    if (n !== name || u !== uuid || typeof offset !== 'number' || typeof startedAt !== 'string') throw invalid();
    if (algorithm === undefined) return { name, uuid, offset, startedAt };
    if (typeof algorithm !== 'string' || !isAlgorithm(algorithm)) throw invalid();
    return { name, uuid, offset, startedAt, algorithm };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
