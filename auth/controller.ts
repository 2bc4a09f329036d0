import { accessIncludes } from './scope';
import { basicChallenge, bearerChallenge } from './challenge';
import { headerValue, isAnonymous, parseBasic, parseBearer } from './basic';
import type { Htpasswd } from './htpasswd';
import type { Policy } from './policy';
import type { FailureLimiter } from './rate-limit';
import { verifyToken } from './token-verify';
import type { TrustStore } from './trust';
import { AccessDenied, Challenge, type Access, type AuthLogger, type Grant, type RequestLike } from './types';

export interface AuthorizeOptions {
  /** Access the request can use but does not need (the full catalog); named in Bearer challenges. */
  optional?: Access[];
  /** The token endpoint when none is configured (derived from the request by the HTTP layer). */
  realm?: string;
}

/**
 * Decides each request: `required` is what the route needs (empty: authentication only). Throws
 * Challenge (401), AccessDenied (403) or TooManyAttempts (429); the client learns nothing of why,
 * the log does.
 */
export interface AccessController {
  readonly mode: 'none' | 'htpasswd' | 'token';
  authorize(req: RequestLike, required: Access[], opts?: AuthorizeOptions): Promise<Grant>;
}

const ALLOW_ALL: Grant = { subject: null, allows: () => true, canList: () => true };

export function openController(): AccessController {
  return { mode: 'none', authorize: async () => ALLOW_ALL };
}

function policyAllows(policy: Policy, user: string | null, a: Access): boolean {
  if (a.type === 'registry' && a.name === 'catalog') return policy.mayListCatalog(user);
  if (a.type !== 'repository') return false;
  return a.actions.every((act) => policy.may(user, a.name, act));
}

export function policyGrant(policy: Policy, user: string | null): Grant {
  return {
    subject: user,
    allows: (type, name, action) => policyAllows(policy, user, { type, name, actions: [action] }),
    canList: (repo) => policy.may(user, repo, 'pull'),
  };
}

const short = (s: string) => s.slice(0, 100);

export interface HtpasswdControllerDeps {
  htpasswd: Htpasswd;
  policy: Policy;
  limiter: FailureLimiter;
  realm: string;
  logger: AuthLogger;
}

/** Basic mode: credentials on every request, checked against htpasswd; the policy decides. */
export function htpasswdController(d: HtpasswdControllerDeps): AccessController {
  const challenge = basicChallenge(d.realm);
  return {
    mode: 'htpasswd',
    async authorize(req, required, opts = {}) {
      const header = headerValue(req.headers, 'authorization');
      // No credentials: a verified client certificate's user, if it names one, else anonymous.
      let user: string | null = req.certificateUser ?? null;
      const creds = header === undefined ? null : parseBasic(header);
      if (header !== undefined && !(creds && isAnonymous(creds))) {
        d.limiter.check(req.remote);
        if (!creds) {
          d.limiter.fail(req.remote);
          d.logger.warn({ remote: req.remote, reason: 'malformed or non-Basic authorization header' }, 'authentication failed');
          throw new Challenge(challenge);
        }
        if (!(await d.htpasswd.verify(creds.user, creds.password))) {
          d.limiter.fail(req.remote);
          d.logger.warn({ remote: req.remote, user: short(creds.user), reason: 'unknown user or wrong password' }, 'authentication failed');
          throw new Challenge(challenge);
        }
        user = creds.user;
      }
      // `/v2/` challenges an anonymous client, or `docker login` would accept any password. The
      // catalog, filtered to what anonymous clients may pull, answers them as in token mode, where
      // the policy lets them pull something (so that they can find the public repositories).
      const listsCatalog = opts.optional?.some((a) => a.type === 'registry' && a.name === 'catalog') === true;
      if (user === null && required.length === 0 && !(listsCatalog && d.policy.grantsAnonymous())) throw new Challenge(challenge);
      const missing = required.find((a) => !policyAllows(d.policy, user, a));
      if (missing) {
        d.logger.info({ remote: req.remote, user, type: missing.type, name: missing.name, actions: missing.actions }, 'access denied');
        if (user === null) throw new Challenge(challenge);
        throw new AccessDenied();
      }
      return policyGrant(d.policy, user);
    },
  };
}

export interface TokenControllerDeps {
  trust: () => Promise<TrustStore>;
  policy: Policy;
  limiter: FailureLimiter;
  /** Configured realm; else AuthorizeOptions.realm. */
  realm?: string;
  service: string;
  issuer: string;
  logger: AuthLogger;
}

/** Token mode: Bearer challenges; the token's access claim decides, as in Distribution. */
export function tokenController(d: TokenControllerDeps): AccessController {
  return {
    mode: 'token',
    async authorize(req, required, opts = {}) {
      const realm = d.realm ?? opts.realm ?? '/auth/token';
      const scopes = [...required, ...(opts.optional ?? [])];
      const header = headerValue(req.headers, 'authorization');
      if (header === undefined || /^Basic /i.test(header)) throw new Challenge(bearerChallenge(realm, d.service, scopes));
      const token = parseBearer(header);
      // Valid tokens always pass (a token cannot be guessed); a client sending bad ones is slowed down.
      const invalid = (reason: string) => {
        d.logger.warn({ remote: req.remote, reason: short(reason) }, 'token rejected');
        d.limiter.check(req.remote);
        d.limiter.fail(req.remote);
        return new Challenge(bearerChallenge(realm, d.service, scopes, 'invalid_token'));
      };
      if (token === null) throw invalid('malformed Bearer authorization header');
      let claims;
      try {
        claims = await verifyToken(token, { trust: await d.trust(), issuer: d.issuer, audience: d.service });
      } catch (e) {
        throw invalid((e as Error).message);
      }
      const have = claims.access;
      const missing = required.find((a) => !a.actions.every((act) => accessIncludes(have, a.type, a.name, act)));
      if (missing) {
        d.logger.info({ remote: req.remote, user: claims.sub, type: missing.type, name: missing.name, actions: missing.actions }, 'insufficient scope');
        throw new Challenge(bearerChallenge(realm, d.service, scopes, 'insufficient_scope'));
      }
      const user = claims.sub === '' ? null : claims.sub;
      return {
        subject: user,
        allows: (type, name, action) => accessIncludes(have, type, name, action),
        canList: (repo) => accessIncludes(have, 'repository', repo, 'pull') || d.policy.may(user, repo, 'pull'),
      };
    },
  };
}
