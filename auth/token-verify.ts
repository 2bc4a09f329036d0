import jwt from 'jsonwebtoken';
import { algorithmsFor } from './keys';
import type { TrustStore } from './trust';
import type { Access } from './types';

/** Every algorithm any trusted key may use; HMAC and `none` are never accepted. */
const PINNED: jwt.Algorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];
export const LEEWAY_SECONDS = 60;

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  access: Access[];
}

export class InvalidToken extends Error {}

function isAccessList(v: unknown): v is Access[] {
  return (
    Array.isArray(v) &&
    v.every(
      (a) =>
        typeof a === 'object' && a !== null &&
        typeof (a as Access).type === 'string' &&
        typeof (a as Access).name === 'string' &&
        Array.isArray((a as Access).actions) &&
        (a as Access).actions.every((x) => typeof x === 'string'),
    )
  );
}

export interface VerifyOptions {
  trust: TrustStore;
  issuer: string;
  audience: string;
  /** Seconds since the epoch; tests move the clock. */
  clockTimestamp?: number;
}

/**
 * Verifies a registry token: signature by a trusted key with an algorithm pinned to that key's type,
 * then issuer, audience, exp and nbf (60 s leeway). The reason goes into InvalidToken for the logs.
 */
export function verifyToken(token: string, opts: VerifyOptions): Promise<TokenClaims> {
  return new Promise((resolve, reject) => {
    jwt.verify(
      token,
      (header, cb) => {
        try {
          const key = opts.trust.resolve(header);
          if (!algorithmsFor(key).includes(header.alg as never)) return cb(new Error(`algorithm ${header.alg} does not fit the key`));
          cb(null, key);
        } catch (e) {
          cb(e as Error);
        }
      },
      {
        algorithms: PINNED,
        issuer: opts.issuer,
        audience: opts.audience,
        clockTolerance: LEEWAY_SECONDS,
        clockTimestamp: opts.clockTimestamp,
      },
      (err, payload) => {
        if (err) return reject(new InvalidToken(err.message));
        const p = payload as Partial<TokenClaims> | undefined;
        if (!p || typeof p !== 'object' || typeof p.exp !== 'number') return reject(new InvalidToken('token has no exp'));
        const access = p.access ?? [];
        if (!isAccessList(access)) return reject(new InvalidToken('malformed access claim'));
        resolve({ ...(p as TokenClaims), sub: typeof p.sub === 'string' ? p.sub : '', access });
      },
    );
  });
}
