import { errors, jwtVerify } from 'jose';
import { VERIFY_ALGORITHMS } from './keys';
import type { TrustStore } from './trust';
import type { Access } from './types';

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

/** Why jose refused a token, in the words the logs have always used (operators grep for them). */
function reason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'jwt expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return `token has no ${e.claim}`;
    if (e.claim === 'iss') return 'jwt issuer invalid';
    if (e.claim === 'aud') return 'jwt audience invalid';
    if (e.claim === 'nbf') return 'jwt not active';
    return `jwt ${e.claim} invalid`;
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  return e instanceof Error ? e.message : String(e);
}

/**
 * Verifies a registry token with jose: signature by a key the trust store resolves from the
 * protected header, with an algorithm pinned to that key's type (never HMAC or `none`), then
 * issuer, audience, exp (required) and nbf with 60 s of leeway. The reason goes into InvalidToken
 * for the logs.
 */
export async function verifyToken(token: string, opts: VerifyOptions): Promise<TokenClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, opts.trust.resolve, {
      algorithms: VERIFY_ALGORITHMS,
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: LEEWAY_SECONDS,
      currentDate: opts.clockTimestamp === undefined ? undefined : new Date(opts.clockTimestamp * 1000),
      requiredClaims: ['exp'],
    }));
  } catch (e) {
    throw new InvalidToken(reason(e));
  }
  const access = payload.access ?? [];
  if (!isAccessList(access)) throw new InvalidToken('malformed access claim');
  return { ...(payload as unknown as TokenClaims), sub: typeof payload.sub === 'string' ? payload.sub : '', access };
}
