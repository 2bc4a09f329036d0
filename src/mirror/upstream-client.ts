/**
 * The pull-through mirror's client for one upstream registry (OCI Distribution, as Docker Hub,
 * GHCR, Distribution and Berth speak it). It exists so that the mirror's routes can ask "what is
 * this tag now", "give me these manifest bytes", "stream me this blob" without knowing how the
 * upstream authenticates, redirects or fails: every failure comes back as an UpstreamError whose
 * kind decides whether to serve stale content, answer 404, or refuse to cache.
 *
 * Content is checked here only where it is small: manifest bytes are verified against the digest
 * asked for (or the one the upstream announces). Blob bytes stream through unverified, with only
 * their length checked; the mirror's blob writer hashes them as it stores them, once.
 *
 * Credentials and tokens appear in Authorization headers only: never in messages, logs or URLs.
 */
import { readFileSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import { digestOf, parseDigest } from '../oci/digest';
import { MEDIA_TYPES } from '../oci/manifest-parse';
import { validateName } from '../oci/names';
import { parseChallenges } from './challenge';
import { TokenCache } from './token-cache';
import { UpstreamAuth, schemeOf, type AuthScheme, type Credentials } from './upstream-auth';
import { UpstreamError, describeUrl, kindOfStatus, parseRetryAfter } from './upstream-errors';
import { UpstreamTransport, bodyError, discard, readBounded, type UpstreamResponse } from './upstream-http';
import {
  MANIFEST_ACCEPT,
  announcedDigest,
  manifestMediaType,
  mediaTypeOf,
  nextLink,
  parseReference,
  parseReferrersIndex,
  type ReferrersIndex,
  type ReferrersResult,
} from './upstream-content';

export { MANIFEST_ACCEPT, type ReferrersIndex, type ReferrersResult };

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

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface FetchedManifest extends ManifestInfo {
  bytes: Buffer;
}

export interface BlobStream {
  /**
   * The blob's bytes; fails (never ends early) when the upstream drops or stalls: with a
   * Content-Length or chunked framing, Node reports a connection closed early as an error.
   */
  stream: Readable;
  /** Content-Length, when the upstream sent one. */
  size?: number;
}

export interface TagPage {
  tags: string[];
  /** The `last` that asks for the next page, when the upstream said there is one. */
  next?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

const MAX_REFERRER_PAGES = 20;
const ERROR_BODY_MAX = 16 * 1024;

function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

function sameScheme(a: AuthScheme | undefined, b: AuthScheme): boolean {
  if (a === undefined || a.scheme !== b.scheme) return false;
  return a.scheme !== 'bearer' || b.scheme !== 'bearer' || (a.realm.href === b.realm.href && a.service === b.service);
}

export class UpstreamClient {
  private readonly base: URL;
  private readonly transport: UpstreamTransport;
  private readonly auth: UpstreamAuth;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly manifestMax: number;
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
    this.manifestMax = opts.manifestMaxSize ?? 4 * 1024 * 1024;
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

  /** The upstream's base URL without credentials, for logs and metrics labels. */
  get url(): string {
    return describeUrl(this.base);
  }

  private endpoint(path: string): URL {
    return new URL(this.base.pathname.replace(/\/+$/, '') + path, this.base);
  }

  /** Checks the upstream answers and accepts the configured credentials (or anonymous access) on `/v2/`. */
  async ping(opts: CallOptions = {}): Promise<{ auth: AuthScheme['scheme'] }> {
    const res = await this.send('GET', this.endpoint('/v2/'), undefined, opts);
    if (res.status !== 200) throw await this.failure(res);
    discard(res);
    return { auth: this.auth.scheme?.scheme ?? 'none' };
  }

  /** The manifest's digest, media type and size, or null when the upstream has no such manifest. */
  async headManifest(repo: string, reference: string, opts: CallOptions = {}): Promise<ManifestInfo | null> {
    validateName(repo);
    const asked = parseReference(reference);
    const res = await this.send('HEAD', this.endpoint(`/v2/${repo}/manifests/${reference}`), pullScope(repo), { ...opts, headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      discard(res);
      return null;
    }
    if (res.status !== 200) throw await this.failure(res);
    discard(res);
    const announced = announcedDigest(res.headers['docker-content-digest']);
    if (asked !== undefined && announced !== undefined && announced.value !== asked.value)
      throw new UpstreamError('bad-response', `upstream HEAD ${describeUrl(res.url)} announced digest ${announced.value}`);
    const digest = asked ?? announced;
    const size = Number(res.headers['content-length']);
    const mediaType = mediaTypeOf(res.headers['content-type']);
    // Some registries announce no digest, length or specific type on HEAD: the bytes are the answer then.
    if (digest === undefined || !Number.isSafeInteger(size) || mediaType === undefined) {
      try {
        const { bytes: _bytes, ...info } = await this.getManifest(repo, reference, opts);
        return info;
      } catch (err) {
        if (err instanceof UpstreamError && err.kind === 'not-found') return null;
        throw err;
      }
    }
    if (size > this.manifestMax) throw new UpstreamError('bad-response', `upstream HEAD ${describeUrl(res.url)}: manifest larger than ${this.manifestMax} bytes`);
    return { digest: digest.value, mediaType, size };
  }

  /** The manifest's bytes, verified against the digest asked for or the one the upstream announces. */
  async getManifest(repo: string, reference: string, opts: CallOptions = {}): Promise<FetchedManifest> {
    validateName(repo);
    const asked = parseReference(reference);
    const res = await this.send('GET', this.endpoint(`/v2/${repo}/manifests/${reference}`), pullScope(repo), { ...opts, headers: { accept: MANIFEST_ACCEPT } });
    if (res.status !== 200) throw await this.failure(res);
    const bytes = await readBounded(res, this.manifestMax, 'GET');
    const announced = announcedDigest(res.headers['docker-content-digest']);
    const expected = asked ?? announced;
    const digest = digestOf(bytes, expected?.algorithm ?? 'sha256');
    if (expected !== undefined && digest.value !== expected.value)
      throw new UpstreamError('bad-response', `upstream GET ${describeUrl(res.url)}: the bytes have digest ${digest.value}, not ${expected.value}`);
    return { bytes, digest: digest.value, mediaType: manifestMediaType(res.headers['content-type'], bytes, `upstream GET ${describeUrl(res.url)}`), size: bytes.length };
  }

  /**
   * The blob as a stream, following redirects to the upstream's storage. Backpressure reaches the
   * upstream's socket; destroying the stream (or aborting `signal`) closes the connection.
   */
  async getBlob(repo: string, digest: string, opts: CallOptions = {}): Promise<BlobStream> {
    validateName(repo);
    parseDigest(digest);
    const res = await this.send('GET', this.endpoint(`/v2/${repo}/blobs/${digest}`), pullScope(repo), { ...opts, followRedirects: true });
    if (res.status !== 200) throw await this.failure(res);
    const declared = Number(res.headers['content-length']);
    const size = res.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
    const stream = new PassThrough();
    res.body.once('error', (err) => stream.destroy(bodyError(err, 'GET', res.url, opts.signal)));
    stream.once('close', () => {
      if (!res.body.readableEnded) res.body.destroy();
    });
    res.body.pipe(stream);
    return { stream, size };
  }

  /** The blob's size when the upstream has it (a HEAD: nothing is downloaded), null when it has not. */
  async headBlob(repo: string, digest: string, opts: CallOptions = {}): Promise<{ size?: number } | null> {
    validateName(repo);
    parseDigest(digest);
    const res = await this.send('HEAD', this.endpoint(`/v2/${repo}/blobs/${digest}`), pullScope(repo), { ...opts, followRedirects: true });
    discard(res);
    if (res.status === 404) return null;
    if (res.status !== 200) throw await this.failure(res);
    const size = Number(res.headers['content-length']);
    return res.headers['content-length'] !== undefined && Number.isSafeInteger(size) && size >= 0 ? { size } : {};
  }

  /** One page of the repository's tags, as the upstream pages them; `last` of the next page when there is one. */
  async listTags(repo: string, page: { n?: number; last?: string } = {}, opts: CallOptions = {}): Promise<TagPage> {
    validateName(repo);
    const url = this.endpoint(`/v2/${repo}/tags/list`);
    if (page.n !== undefined) url.searchParams.set('n', String(page.n));
    if (page.last !== undefined) url.searchParams.set('last', page.last);
    const res = await this.send('GET', url, pullScope(repo), opts);
    if (res.status !== 200) throw await this.failure(res);
    const where = `upstream GET ${describeUrl(res.url)}`;
    let body: { tags?: unknown };
    try {
      body = JSON.parse((await readBounded(res, this.manifestMax, 'GET')).toString('utf8')) as { tags?: unknown };
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError('bad-response', `${where}: the tag list is not JSON`);
    }
    // Distribution answers `"tags": null` for a repository without tags.
    const tags = body.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new UpstreamError('bad-response', `${where}: tags is not a list of strings`);
    const next = nextLink(res.headers.link, res.url)?.searchParams.get('last') ?? undefined;
    return { tags, ...(next === undefined ? {} : { next }) };
  }

  /**
   * The referrers of `digest` (all pages), filtered by `artifactType` when the upstream supports it;
   * `supported: false` when the upstream has no referrers API (it answers 404, as Distribution 2.8
   * does), so that the caller can fall back to the referrers tag schema.
   */
  async getReferrers(repo: string, digest: string, artifactType?: string, opts: CallOptions = {}): Promise<ReferrersResult> {
    validateName(repo);
    parseDigest(digest);
    let url: URL | undefined = this.endpoint(`/v2/${repo}/referrers/${digest}`);
    if (artifactType !== undefined) url.searchParams.set('artifactType', artifactType);
    const manifests: ReferrersIndex['manifests'] = [];
    let first: ReferrersIndex | undefined;
    let filtered = false;
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_REFERRER_PAGES) throw new UpstreamError('bad-response', `upstream GET ${describeUrl(url)}: more than ${MAX_REFERRER_PAGES} pages of referrers`);
      const res = await this.send('GET', url, pullScope(repo), { ...opts, headers: { accept: MEDIA_TYPES.ociIndex } });
      if (res.status === 404 && page === 0) {
        discard(res);
        return { supported: false };
      }
      if (res.status !== 200) throw await this.failure(res);
      const index = parseReferrersIndex(await readBounded(res, this.manifestMax, 'GET'), `upstream GET ${describeUrl(res.url)}`);
      first ??= index;
      manifests.push(...index.manifests);
      if (artifactType !== undefined && String(res.headers['oci-filters-applied'] ?? '').split(',').some((f) => f.trim() === 'artifactType')) filtered = true;
      url = nextLink(res.headers.link, res.url);
      if (url !== undefined && url.origin !== this.base.origin) throw new UpstreamError('bad-response', `upstream GET ${describeUrl(res.url)}: a next page on another host`);
    }
    return { supported: true, index: { ...first!, manifests }, filtered };
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

  /**
   * One request with the upstream's authentication. A 401 is retried once, with a fresh token,
   * when the token was cached (the upstream may have restarted with another key, or revoked it) or
   * when the challenge changed; otherwise the 401 is the answer.
   */
  private async send(
    method: string,
    url: URL,
    scope: string | undefined,
    opts: CallOptions & { headers?: Record<string, string>; followRedirects?: boolean },
  ): Promise<UpstreamResponse> {
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
  private async failure(res: UpstreamResponse): Promise<UpstreamError> {
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
}
