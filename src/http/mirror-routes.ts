import { copyTo } from '../../storage-drivers/streams';
import type { ByteRange } from '../oci/blobs';
import { parseDigest, type Digest } from '../oci/digest';
import { DomainError, isDomainError } from '../oci/errors';
import type { MirrorService } from '../mirror/mirror-service';
import type { MirrorRoute } from '../mirror/routing';
import { upstreamAnswer } from '../mirror/upstream-answer';
import { UpstreamError } from '../mirror/upstream-errors';
import { parseCount, parseRange, wantedRange } from './ranges';
import { type RouteContext, type RouteHandler } from './context';
import { blobTarget, recordEvents } from './events';
import { readReference, sendManifest } from './manifest-routes';
import { nextLink, sendReferrers } from './listing-routes';
import { sendJson } from './context';

type MirroredHandler = (ctx: RouteContext, route: MirrorRoute, mirrors: MirrorService) => Promise<void>;

/**
 * The route's handler for local repositories, `mirrored` for a mirror's. In read-only mode a mirrored
 * repository is served as the local one it is stored as: what is cached, without asking the upstream,
 * since nothing it answered could be stored (and a write refused by a read-only mount would turn
 * readiness red).
 */
export function orMirror(local: RouteHandler, mirrored: MirroredHandler): RouteHandler {
  return (ctx) => (ctx.mirror && ctx.options.mirrors && !ctx.options.readOnly ? mirrored(ctx, ctx.mirror, ctx.options.mirrors) : local(ctx));
}

/** Manifests: see mirror/mirror-manifests.ts for when the upstream is asked. */
export async function getMirroredManifest(ctx: RouteContext, route: MirrorRoute, mirrors: MirrorService): Promise<void> {
  const ref = readReference(ctx.param);
  const m = await mirrors.manifests.get(route, await mirrors.client(route), ref);
  await sendManifest(ctx, ref, m);
}

/**
 * Blobs: a cached blob is served as any other (ranges, redirects). An uncached one: a HEAD asks the
 * upstream's HEAD (nothing is downloaded for it); a GET joins or starts the fetch of the whole blob
 * (which is what gets verified and cached) and streams it as it arrives. A GET with a Range (a
 * client resuming a pull) joins the same fetch and gets a 206 of its bytes from the flight as soon
 * as the fetch reaches them (blob-flight.ts), as local blobs answer a Range (ranges.ts: one range;
 * several, or an If-Range that does not match, get the whole blob; none that fits, a 416). While the
 * upstream has not declared the size, the Range cannot be resolved: the whole blob, a 200. A fetch
 * that fails mid-stream cuts the connection short: never a clean end.
 */
export function getMirroredBlob(local: RouteHandler): MirroredHandler {
  return async (ctx, route, mirrors) => {
    const digest = parseDigest(ctx.param);
    countServedBytes(ctx, route, mirrors);
    if (await isCached(ctx, digest)) {
      mirrors.observer.served?.(route.mirror.prefix, 'blob', 'hit');
      return local(ctx);
    }
    const client = await mirrors.client(route);
    const notFound = () => new DomainError('blob-unknown', { digest: digest.value });
    const { res } = ctx;
    const header = wantedRange(ctx.req.headers, `"${digest.value}"`);
    const select = header === undefined ? undefined : (size: number) => selectRange(header, size);
    if (ctx.req.method === 'HEAD') {
      const info = await client.headBlob(route.upstreamRepository, digest.value, { signal: ctx.signal }).catch((err: unknown) => {
        throw upstreamAnswer(mirrors.failed(route, err), notFound);
      });
      if (info === null) throw notFound();
      mirrors.observer.served?.(route.mirror.prefix, 'blob', 'miss');
      // The headers the GET would have, as a local blob's HEAD answers a Range.
      blobHeaders(ctx, digest, info.size, info.size === undefined ? undefined : select?.(info.size));
      res.end();
      return;
    }
    const fetched = await mirrors.blobs
      .get(route.localRepository, digest, (signal) => client.getBlob(route.upstreamRepository, digest.value, { signal }), { signal: ctx.signal, select })
      .catch((err: unknown) => {
        // An unsatisfiable range (a DomainError) goes through as it is: a 416.
        throw upstreamAnswer(mirrors.failed(route, err), notFound);
      });
    mirrors.observer.served?.(route.mirror.prefix, 'blob', fetched.source === 'storage' ? 'hit' : 'miss');
    await recordEvents(ctx, 'pull', [blobTarget(ctx, digest, fetched.size ?? 0)]);
    blobHeaders(ctx, digest, fetched.size, fetched.range);
    res.flushHeaders();
    try {
      await copyTo(fetched.stream, res);
    } catch (err) {
      // The upstream dropped, the digest did not match, or the client left: nothing was cached,
      // and cutting the response short is the only signal left once the status is sent.
      fetched.stream.destroy();
      res.destroy(mirrors.failed(route, err) as Error);
    }
  };
}

async function isCached(ctx: RouteContext, digest: Digest): Promise<boolean> {
  try {
    await ctx.registry.blobs.stat(ctx.name, digest);
    return true;
  } catch (err) {
    if (isDomainError(err, 'blob-unknown')) return false;
    throw err;
  }
}

/** The bytes of a blob of `size` that `header` asks for (undefined: all of them), as for local blobs; throws a 416. */
function selectRange(header: string, size: number): ByteRange | undefined {
  const range = parseRange(header, size);
  if (range.kind === 'unsatisfiable') throw new DomainError('range-not-satisfiable', { size }, 'requested range not satisfiable');
  return range.kind === 'partial' ? range.range : undefined;
}

function blobHeaders(ctx: RouteContext, digest: Digest, size: number | undefined, range?: ByteRange): void {
  const { res } = ctx;
  res.statusCode = range ? 206 : 200;
  res.setHeader('Docker-Content-Digest', digest.value);
  res.setHeader('ETag', `"${digest.value}"`);
  res.setHeader('Content-Type', 'application/octet-stream');
  if (size !== undefined) res.setHeader('Accept-Ranges', 'bytes');
  if (range) {
    res.setHeader('Content-Length', range.end - range.start + 1);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  } else if (size !== undefined) res.setHeader('Content-Length', size);
}

/** Blob bytes sent to a mirrored repository's clients: counted when a GET completes. */
function countServedBytes(ctx: RouteContext, route: MirrorRoute, mirrors: MirrorService): void {
  const { res } = ctx;
  if (ctx.req.method !== 'GET' || !mirrors.observer.servedBytes) return;
  // 'finish': the whole response was handed to the socket (a cut one never finishes).
  res.once('finish', () => {
    const sent = Number(res.getHeader('Content-Length'));
    if (res.statusCode < 300 && Number.isFinite(sent)) mirrors.observer.servedBytes?.(route.mirror.prefix, sent);
  });
}

/**
 * Tags: the upstream's list, as Distribution's proxy answers it, paged by the upstream (`n` and
 * `last` passed through). While the upstream is down or rate-limits, the tags cached here.
 */
export function listMirroredTags(local: RouteHandler): MirroredHandler {
  return async (ctx, route, mirrors) => {
    const n = parseCount(ctx.query.get('n'));
    const last = ctx.query.get('last') ?? undefined;
    let page;
    try {
      page = await (await mirrors.client(route)).listTags(route.upstreamRepository, { n, last }, { signal: ctx.signal });
    } catch (err) {
      if (transient(mirrors.failed(route, err))) return local(ctx);
      throw upstreamAnswer(err, () => new DomainError('name-unknown', { name: ctx.name }));
    }
    let { tags, next } = page;
    // An upstream that ignores `n` (Distribution 2.8) sent them all: paged here, in lexical order as
    // the spec asks, so that the client's `n` and `last` still mean what they say.
    if (n !== undefined && tags.length > n) {
      const rest = [...tags].sort().filter((t) => last === undefined || t > last);
      tags = rest.slice(0, n);
      next = rest.length > n ? tags[n - 1] : undefined;
    }
    const headers: Record<string, string> = {};
    if (next !== undefined) headers.Link = nextLink(`/v2/${ctx.name}/tags/list`, { n, last: next });
    sendJson(ctx.res, 200, { name: ctx.name, tags }, headers);
  };
}

/**
 * Referrers: the upstream's, when it has the referrers API (every page, in one answer); the ones
 * stored here when it has not (Distribution 2.8), or while it is down or rate-limits. Not cached:
 * a referrer (a signature, an SBOM) may be added upstream at any time.
 */
export function listMirroredReferrers(local: RouteHandler): MirroredHandler {
  return async (ctx, route, mirrors) => {
    const subject = parseDigest(ctx.param);
    const artifactType = ctx.query.get('artifactType') ?? undefined;
    let result;
    try {
      result = await (await mirrors.client(route)).getReferrers(route.upstreamRepository, subject.value, artifactType, { signal: ctx.signal });
    } catch (err) {
      if (transient(mirrors.failed(route, err))) return local(ctx);
      throw upstreamAnswer(err, () => new DomainError('manifest-unknown', { digest: subject.value }));
    }
    if (!result.supported) return local(ctx);
    let manifests = result.index.manifests;
    // An upstream that ignored the filter: applied here, so the answer is what the client asked.
    if (artifactType !== undefined && !result.filtered) manifests = manifests.filter((m) => m.artifactType === artifactType);
    sendReferrers(ctx, manifests, artifactType !== undefined ? { 'OCI-Filters-Applied': 'artifactType' } : {});
  };
}

function transient(err: unknown): boolean {
  return err instanceof UpstreamError && (err.kind === 'unavailable' || err.kind === 'rate-limited');
}

