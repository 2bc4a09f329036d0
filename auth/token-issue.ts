import { randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { libtrustKeyId, signingAlgorithm, type SigningAlgorithm } from './keys';
import type { TrustStore } from './trust';
import { InvalidToken, verifyToken } from './token-verify';
import type { Access } from './types';

export interface SigningMaterial {
  privateKey: KeyObject;
  /** DER certificate of privateKey's public half, sent as x5c. */
  certificate: Buffer;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

/** Refresh tokens are audience-bound to this prefix, so a registry never accepts one as an access token. */
const REFRESH_AUDIENCE = 'berth-refresh:';

/**
 * Signs Docker registry tokens with jose: iss, sub, aud, exp, nbf, iat, jti and access[], with a
 * libtrust `kid` (what Distribution 2.x looks up) and an `x5c` holding the signing certificate.
 */
export class TokenIssuer {
  private readonly kid: string;
  private readonly alg: SigningAlgorithm;

  constructor(
    private readonly material: SigningMaterial,
    private readonly opts: { issuer: string; service: string; expiresInSeconds: number; refreshExpiresInSeconds: number },
  ) {
    this.kid = libtrustKeyId(material.privateKey);
    this.alg = signingAlgorithm(material.privateKey);
  }

  private sign(claims: { sub: string; aud: string; access?: Access[] }, expiresIn: number, now: number): Promise<string> {
    const { sub, aud, ...rest } = claims;
    return new SignJWT(rest)
      .setProtectedHeader({ alg: this.alg, typ: 'JWT', kid: this.kid, x5c: [this.material.certificate.toString('base64')] })
      .setIssuer(this.opts.issuer)
      .setSubject(sub)
      .setAudience(aud)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + expiresIn)
      .setJti(randomBytes(16).toString('hex'))
      .sign(this.material.privateKey);
  }

  async issue(subject: string, access: Access[]): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    const token = await this.sign({ sub: subject, aud: this.opts.service, access }, this.opts.expiresInSeconds, now);
    return { token, expiresIn: this.opts.expiresInSeconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  issueRefresh(subject: string): Promise<string> {
    return this.sign({ sub: subject, aud: REFRESH_AUDIENCE + this.opts.service }, this.opts.refreshExpiresInSeconds, Math.floor(Date.now() / 1000));
  }

  /** The user a refresh token was issued to (it must be one of ours, for this service). */
  async verifyRefresh(token: string, trust: TrustStore): Promise<string> {
    const claims = await verifyToken(token, { trust, issuer: this.opts.issuer, audience: REFRESH_AUDIENCE + this.opts.service });
    if (claims.sub === '') throw new InvalidToken('refresh token without subject');
    return claims.sub;
  }
}
