/**
 * How the mirror authenticates to an upstream, learned from its challenges rather than configured:
 * Distribution with htpasswd wants Basic on every request, Docker Hub, GHCR and Berth's token mode
 * want a Bearer token from their realm (fetched with the configured Basic credentials, or
 * anonymously), and an open registry wants nothing. Tokens are cached per scope; concurrent
 * requests needing the same token share one fetch.
 */
import type { Logger } from 'pino';
import type { Challenge } from './challenge';
import { DEFAULT_TOKEN_SECONDS, TokenCache } from './token-cache';
import { UpstreamError, describeUrl, kindOfStatus, parseRetryAfter } from './upstream-errors';
import { discard, readBounded, type UpstreamTransport } from './upstream-http';

export interface Credentials {
  username: string;
  password: string;
}

export type AuthScheme = { scheme: 'none' } | { scheme: 'basic' } | { scheme: 'bearer'; realm: URL; service?: string };

/** What to send with one request, and whether retrying with a fresh token could help. */
export interface Authorization {
  header?: string;
  /** The token came from the cache (the upstream may have revoked it or restarted with a new key). */
  cached: boolean;
  /** Cache key and token, to forget the token when the upstream refuses it. */
  key?: string;
  token?: string;
}

/** Token responses are small JSON; a JWT with an x5c chain is a few KiB. */
const TOKEN_RESPONSE_MAX = 1024 * 1024;

/** The scheme to use from a 401's challenges: Bearer over Basic; undefined when neither is usable. */
export function schemeOf(challenges: Challenge[], base: URL): AuthScheme | undefined {
  const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
  if (bearer) {
    let realm: URL;
    try {
      realm = new URL(bearer.params.realm, base);
    } catch {
      return undefined;
    }
    if (realm.protocol !== 'http:' && realm.protocol !== 'https:') return undefined;
    return { scheme: 'bearer', realm, service: bearer.params.service || undefined };
  }
  if (challenges.some((c) => c.scheme === 'basic')) return { scheme: 'basic' };
  return undefined;
}

export class UpstreamAuth {
  private state: AuthScheme | undefined;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly d: {
      transport: UpstreamTransport;
      credentials?: Credentials;
      cache: TokenCache;
      logger: Logger;
      now: () => number;
    },
  ) {}

  get scheme(): AuthScheme | undefined {
    return this.state;
  }

  learn(scheme: AuthScheme): void {
    this.state = scheme;
  }

  private basicHeader(): string | undefined {
    const c = this.d.credentials;
    return c ? 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64') : undefined;
  }

  /** The Authorization for a request needing `scope` (none for /v2/ itself); a fresh token when `refresh`. */
  async authorize(scope: string | undefined, refresh: boolean): Promise<Authorization> {
    const state = this.state;
    if (state === undefined || state.scheme === 'none') return { cached: false };
    if (state.scheme === 'basic') return { header: this.basicHeader(), cached: false };
    const key = TokenCache.key(state.realm.href, state.service, scope ?? '');
    const hit = refresh ? undefined : this.d.cache.get(key);
    if (hit !== undefined) return { header: `Bearer ${hit}`, cached: true, key, token: hit };
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      // Shared by concurrent requests, so no one caller's abort cancels it; the timeout bounds it.
      pending = this.fetchToken(state, scope, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const token = await pending;
    return { header: `Bearer ${token}`, cached: false, key, token };
  }

  /** Forgets a token the upstream answered 401 to. */
  refused(auth: Authorization): void {
    if (auth.key !== undefined && auth.token !== undefined) this.d.cache.invalidate(auth.key, auth.token);
  }

  private async fetchToken(state: AuthScheme & { scheme: 'bearer' }, scope: string | undefined, key: string): Promise<string> {
    const url = new URL(state.realm);
    if (state.service !== undefined) url.searchParams.set('service', state.service);
    if (scope !== undefined) url.searchParams.set('scope', scope);
    const basic = this.basicHeader();
    const res = await this.d.transport.request('GET', url, { headers: basic ? { authorization: basic } : {} });
    const where = `token request to ${describeUrl(url)}`;
    if (res.status !== 200) {
      discard(res);
      throw new UpstreamError(kindOfStatus(res.status), `upstream ${where} answered ${res.status}`, {
        status: res.status,
        retryAfterMs: parseRetryAfter(res.headers['retry-after'], this.d.now()),
      });
    }
    const body = await readBounded(res, TOKEN_RESPONSE_MAX, where);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new UpstreamError('bad-response', `upstream ${where}: the answer is not JSON`);
    }
    // Docker's spec names it `token`; OAuth2-style servers send `access_token` (both when they can).
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token.length === 0 || /[\s,]/.test(token)) throw new UpstreamError('bad-response', `upstream ${where}: the answer has no token`);
    const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    this.d.cache.set(key, token, expiresIn);
    this.d.logger.debug({ realm: describeUrl(url), service: state.service, scope, expiresIn }, 'upstream token fetched');
    return token;
  }
}
