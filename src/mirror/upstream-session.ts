/**
 * One upstream registry as an authenticated HTTP endpoint: its base URL stripped of credentials,
 * the transport to it, and the authentication it asks for, learned once from its answer to
 * `GET /v2/` and renewed when it refuses a token. The registry API on top (manifests, blobs, tags,
 * referrers) is upstream-client.ts; this module knows nothing of it, so the retry-on-401 rule and
 * the mapping of a failed answer to an UpstreamError live in one place.
 *
 * Credentials and tokens appear in Authorization headers only: never in messages, logs or URLs.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseChallenges } from './challenge';
import { TokenCache } from './token-cache';
import { UpstreamAuth, schemeOf, type AuthScheme, type Credentials } from './upstream-auth';
import { UpstreamError, describeUrl, kindOfStatus, parseRetryAfter } from './upstream-errors';
import { UpstreamTransport, discard, readBounded, type UpstreamResponse } from './upstream-http';

export interface UpstreamClientOptions {
  /** The upstream's base URL (http or https); userinfo in it is taken as the credentials. */
  url: string;
  username?: string;
  password?: string;
  /** PEM certificates to trust for the upstream, as text or as a file path. */
  caPem?: string;
  caFile?: string;
  /** Skip certificate verification of the upstream (only its own host). */
  insecure?: boolean;
  /** No byte for this long fails a request as `unavailable` (default 30 s). */
  timeoutMs?: number;
  /** Largest manifest (and referrers page) accepted, as validation.manifests.maxsize (default 4 MiB). */
  manifestMaxSize?: number;
  maxRedirects?: number;
  logger: Logger;
  /** The clock of the token cache (tests move it). */
  now?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export type SendOptions = CallOptions & { headers?: Record<string, string>; followRedirects?: boolean };

const ERROR_BODY_MAX = 16 * 1024;

function sameScheme(a: AuthScheme | undefined, b: AuthScheme): boolean {
  if (a === undefined || a.scheme !== b.scheme) return false;
  return a.scheme !== 'bearer' || b.scheme !== 'bearer' || (a.realm.href === b.realm.href && a.service === b.service);
}

export class UpstreamSession {
  readonly base: URL;
  private readonly transport: UpstreamTransport;
  private readonly auth: UpstreamAuth;
  private readonly logger: Logger;
  private readonly now: () => number;
  private discovery: Promise<void> | undefined;

  constructor(opts: UpstreamClientOptions) {
    const base = new URL(opts.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`upstream URL must be http or https: ${describeUrl(base)}`);
    let credentials: Credentials | undefined;
    if (opts.username !== undefined) credentials = { username: opts.username, password: opts.password ?? '' };
    else if (base.username) credentials = { username: decodeURIComponent(base.username), password: decodeURIComponent(base.password) };
    base.username = '';
    base.password = '';
    base.search = '';
    base.hash = '';
    this.base = base;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    const caPem = opts.caPem ?? (opts.caFile !== undefined ? readFileSync(opts.caFile, 'utf8') : undefined);
    this.transport = new UpstreamTransport({
      origin: base.origin,
      caPem,
      insecure: opts.insecure,
      timeoutMs: opts.timeoutMs ?? 30_000,
      maxRedirects: opts.maxRedirects ?? 5,
    });
    this.auth = new UpstreamAuth({ transport: this.transport, credentials, cache: new TokenCache(this.now), logger: this.logger, now: this.now });
  }

  /** The scheme learned from the upstream's challenges, once a request has been sent. */
  get scheme(): AuthScheme | undefined {
    return this.auth.scheme;
  }

  endpoint(path: string): URL {
    return new URL(this.base.pathname.replace(/\/+$/, '') + path, this.base);
  }

  /**
   * One request with the upstream's authentication. A 401 is retried once, with a fresh token,
   * when the token was cached (the upstream may have restarted with another key, or revoked it) or
   * when the challenge changed; otherwise the 401 is the answer.
   */
  async send(method: string, url: URL, scope: string | undefined, opts: SendOptions): Promise<UpstreamResponse> {
    await this.discover();
    for (let attempt = 0; ; attempt++) {
      const auth = await this.auth.authorize(scope, attempt > 0);
      const headers = { ...opts.headers, ...(auth.header !== undefined ? { authorization: auth.header } : {}) };
      const res = await this.transport.request(method, url, { headers, signal: opts.signal, followRedirects: opts.followRedirects });
      this.logger.debug({ method, url: describeUrl(url), status: res.status }, 'upstream request');
      if (res.status !== 401 || attempt > 0) return res;
      const scheme = schemeOf(parseChallenges(res.headers['www-authenticate']), this.base);
      const changed = scheme !== undefined && !sameScheme(this.auth.scheme, scheme);
      if (!auth.cached && !changed) return res;
      discard(res);
      this.auth.refused(auth);
      if (changed) this.auth.learn(scheme);
      this.logger.info({ url: describeUrl(url), scope, changed }, 'upstream refused its credentials; retrying once with a fresh token');
    }
  }

  /** An UpstreamError for a non-success answer, with the upstream's OCI error code when it sent one. */
  async failure(res: UpstreamResponse): Promise<UpstreamError> {
    let code: string | undefined;
    if (res.method !== 'HEAD') {
      try {
        const body = JSON.parse((await readBounded(res, ERROR_BODY_MAX, res.method)).toString('utf8')) as { errors?: Array<{ code?: unknown }> };
        if (typeof body.errors?.[0]?.code === 'string') code = body.errors[0].code.slice(0, 100);
      } catch {
        // not an OCI error body
      }
    } else discard(res);
    const kind = kindOfStatus(res.status);
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.now());
    return new UpstreamError(kind, `upstream ${res.method} ${describeUrl(res.url)} answered ${res.status}${code ? ` ${code}` : ''}`, { status: res.status, code, retryAfterMs });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.transport.close();
  }

  /**
   * Learns, once, how the upstream wants to be authenticated (its answer to an anonymous `GET /v2/`).
   * Shared by concurrent callers, so no one caller's abort cancels it; the timeout bounds it.
   */
  private discover(): Promise<void> {
    this.discovery ??= (async () => {
      const res = await this.transport.request('GET', this.endpoint('/v2/'));
      if (res.status !== 200 && res.status !== 401) throw await this.failure(res);
      discard(res);
      if (res.status === 200) return this.auth.learn({ scheme: 'none' });
      const scheme = schemeOf(parseChallenges(res.headers['www-authenticate']), this.base);
      if (scheme === undefined) throw new UpstreamError('unauthorized', `upstream GET ${describeUrl(res.url)}: no Basic or Bearer challenge`, { status: 401 });
      this.auth.learn(scheme);
    })().catch((err: unknown) => {
      this.discovery = undefined;
      throw err;
    });
    return this.discovery;
  }
}
