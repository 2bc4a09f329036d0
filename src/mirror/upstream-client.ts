/**
 * The pull-through mirror's client for one upstream registry (OCI Distribution, as Docker Hub,
 * GHCR, Distribution and Berth speak it). It exists so that the mirror's routes can ask "what is
 * this tag now", "give me these manifest bytes", "stream me this blob" without knowing how the
 * upstream authenticates, redirects or fails: every failure comes back as an UpstreamError whose
 * kind decides whether to serve stale content, answer 404, or refuse to cache. Authentication and
 * the mapping of failed answers are upstream-session.ts's.
 *
 * Content is checked here only where it is small: manifest bytes are verified against the digest
 * asked for (or the one the upstream announces). Blob bytes stream through unverified, with only
 * their length checked; the mirror's blob writer hashes them as it stores them, once.
 */
import { PassThrough, type Readable } from 'node:stream';
import { digestOf, parseDigest } from '../oci/digest';
import { MEDIA_TYPES } from '../oci/manifest-parse';
import { validateName } from '../oci/names';
import type { AuthScheme } from './upstream-auth';
import { UpstreamError, describeUrl } from './upstream-errors';
import { bodyError, discard, readBounded } from './upstream-http';
import { UpstreamSession, type CallOptions, type UpstreamClientOptions } from './upstream-session';
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

export { MANIFEST_ACCEPT, type CallOptions, type ReferrersIndex, type ReferrersResult, type UpstreamClientOptions };

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

const MAX_REFERRER_PAGES = 20;

function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

export class UpstreamClient {
  private readonly session: UpstreamSession;
  private readonly manifestMax: number;

  constructor(opts: UpstreamClientOptions) {
    this.session = new UpstreamSession(opts);
    this.manifestMax = opts.manifestMaxSize ?? 4 * 1024 * 1024;
  }

  /** The upstream's base URL without credentials, for logs and metrics labels. */
  get url(): string {
    return describeUrl(this.session.base);
  }

  /** Checks the upstream answers and accepts the configured credentials (or anonymous access) on `/v2/`. */
  async ping(opts: CallOptions = {}): Promise<{ auth: AuthScheme['scheme'] }> {
    const res = await this.session.send('GET', this.session.endpoint('/v2/'), undefined, opts);
    if (res.status !== 200) throw await this.session.failure(res);
    discard(res);
    return { auth: this.session.scheme?.scheme ?? 'none' };
  }

  /** The manifest's digest, media type and size, or null when the upstream has no such manifest. */
  async headManifest(repo: string, reference: string, opts: CallOptions = {}): Promise<ManifestInfo | null> {
    validateName(repo);
    const asked = parseReference(reference);
    const res = await this.session.send('HEAD', this.session.endpoint(`/v2/${repo}/manifests/${reference}`), pullScope(repo), { ...opts, headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      discard(res);
      return null;
    }
    if (res.status !== 200) throw await this.session.failure(res);
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
    const res = await this.session.send('GET', this.session.endpoint(`/v2/${repo}/manifests/${reference}`), pullScope(repo), { ...opts, headers: { accept: MANIFEST_ACCEPT } });
    if (res.status !== 200) throw await this.session.failure(res);
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
    const res = await this.session.send('GET', this.session.endpoint(`/v2/${repo}/blobs/${digest}`), pullScope(repo), { ...opts, followRedirects: true });
    if (res.status !== 200) throw await this.session.failure(res);
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
    const res = await this.session.send('HEAD', this.session.endpoint(`/v2/${repo}/blobs/${digest}`), pullScope(repo), { ...opts, followRedirects: true });
    discard(res);
    if (res.status === 404) return null;
    if (res.status !== 200) throw await this.session.failure(res);
    const size = Number(res.headers['content-length']);
    return res.headers['content-length'] !== undefined && Number.isSafeInteger(size) && size >= 0 ? { size } : {};
  }

  /** One page of the repository's tags, as the upstream pages them; `last` of the next page when there is one. */
  async listTags(repo: string, page: { n?: number; last?: string } = {}, opts: CallOptions = {}): Promise<TagPage> {
    validateName(repo);
    const url = this.session.endpoint(`/v2/${repo}/tags/list`);
    if (page.n !== undefined) url.searchParams.set('n', String(page.n));
    if (page.last !== undefined) url.searchParams.set('last', page.last);
    const res = await this.session.send('GET', url, pullScope(repo), opts);
    if (res.status !== 200) throw await this.session.failure(res);
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
    let url: URL | undefined = this.session.endpoint(`/v2/${repo}/referrers/${digest}`);
    if (artifactType !== undefined) url.searchParams.set('artifactType', artifactType);
    const manifests: ReferrersIndex['manifests'] = [];
    let first: ReferrersIndex | undefined;
    let filtered = false;
    for (let page = 0; url !== undefined; page++) {
      if (page >= MAX_REFERRER_PAGES) throw new UpstreamError('bad-response', `upstream GET ${describeUrl(url)}: more than ${MAX_REFERRER_PAGES} pages of referrers`);
      const res = await this.session.send('GET', url, pullScope(repo), { ...opts, headers: { accept: MEDIA_TYPES.ociIndex } });
      if (res.status === 404 && page === 0) {
        discard(res);
        return { supported: false };
      }
      if (res.status !== 200) throw await this.session.failure(res);
      const index = parseReferrersIndex(await readBounded(res, this.manifestMax, 'GET'), `upstream GET ${describeUrl(res.url)}`);
      first ??= index;
      manifests.push(...index.manifests);
      if (artifactType !== undefined && String(res.headers['oci-filters-applied'] ?? '').split(',').some((f) => f.trim() === 'artifactType')) filtered = true;
      url = nextLink(res.headers.link, res.url);
      if (url !== undefined && url.origin !== this.session.base.origin) throw new UpstreamError('bad-response', `upstream GET ${describeUrl(res.url)}: a next page on another host`);
    }
    return { supported: true, index: { ...first!, manifests }, filtered };
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.session.close();
  }
}
