import { DomainError, isDomainError } from '../oci/errors';
import { parseAlgorithm, parseDigest, type Algorithm, type Digest } from '../oci/digest';
import { validateName } from '../oci/names';
import type { ChunkInput, UploadSession } from '../oci/uploads';
import { contentLength, parseContentRange, uploadRange } from './ranges';
import { baseUrl } from './urls';
import { sendEmpty, type RouteContext } from './context';
import { hasRequestBody, responseClosed } from './protocol';
import { blobTarget, recordEvents, wantsEvent } from './events';

function location(ctx: RouteContext, session: UploadSession): string {
  const base = baseUrl(ctx.req, { host: ctx.options.host, relative: ctx.options.relativeUrls });
  return `${base}/v2/${ctx.name}/blobs/uploads/${session.uuid}?_state=${ctx.registry.uploads.token(session)}`;
}

function blobLocation(ctx: RouteContext, digest: string): string {
  return `${baseUrl(ctx.req, { host: ctx.options.host, relative: ctx.options.relativeUrls })}/v2/${ctx.name}/blobs/${digest}`;
}

/** The 201 of a blob now in the repository, its event recorded first (the size costs a stat, so only when wanted). */
async function blobCreated(ctx: RouteContext, digest: Digest, action: 'push' | 'mount', from?: string): Promise<void> {
  if (wantsEvent(ctx, action)) {
    const { size } = await ctx.registry.blobs.stat(ctx.name, digest);
    await recordEvents(ctx, action, [{ ...blobTarget(ctx, digest, size), fromRepository: from }]);
  }
  sendEmpty(ctx.res, 201, { Location: blobLocation(ctx, digest.value), 'Docker-Content-Digest': digest.value });
  // A mounted blob was queued when it was pushed. The marker's write waits for the response to be
  // sent, so that the push pays nothing for it; its failure is the analyser's to log.
  if (action === 'push') queueAnalysis(ctx, digest);
}

function queueAnalysis(ctx: RouteContext, digest: Digest): void {
  const analysis = ctx.options.insight?.analysis;
  if (analysis === undefined) return;
  const enqueue = (): void => void analysis.enqueue(digest).catch(() => undefined);
  if (responseClosed(ctx.res)) enqueue();
  else ctx.res.once('close', enqueue);
}

function sessionHeaders(ctx: RouteContext, session: UploadSession): Record<string, string> {
  return { Location: location(ctx, session), Range: uploadRange(session.offset), 'Docker-Upload-UUID': session.uuid };
}

function hasBody(ctx: RouteContext): boolean {
  // Parsed for its check: a malformed Content-Length is refused, not taken for "no body".
  contentLength(ctx.req.headers['content-length']);
  return hasRequestBody(ctx.req);
}

function chunk(ctx: RouteContext): ChunkInput {
  return {
    body: ctx.req,
    range: parseContentRange(ctx.req.headers['content-range']),
    contentLength: contentLength(ctx.req.headers['content-length']),
    signal: ctx.signal,
  };
}

/**
 * A refused range, or a session another request holds, also tells the client where the session
 * is and how far it got (the error table renders the Range; the Location only this route can
 * build). A PATCH or PUT resolves its session
 * without the offset (the write learns it), so a refusal raised before any write, such as a
 * malformed Content-Range, reads the offset from storage.
 */
async function withSession<T>(ctx: RouteContext, session: UploadSession, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!isDomainError(err, 'upload-range-invalid') && !isDomainError(err, 'upload-busy')) throw err;
    const offset = err.facts.offset ?? (await ctx.registry.uploads.size(session));
    const { Location, 'Docker-Upload-UUID': uuid } = sessionHeaders(ctx, { ...session, offset });
    ctx.res.setHeader('Location', Location);
    ctx.res.setHeader('Docker-Upload-UUID', uuid);
    throw new DomainError(err.kind, { ...err.facts, offset }, err.reason);
  }
}

/**
 * `digest-algorithm=` (end-4c): the algorithm of the digest that will close the upload, so that it
 * can be computed as the bytes arrive. One Berth does not verify is refused (the spec's 400 for an
 * unsupported algorithm), as is a digest or mount in the same request that contradicts it.
 */
function declaredAlgorithm(ctx: RouteContext): Algorithm | undefined {
  const param = ctx.query.get('digest-algorithm');
  if (param === null) return undefined;
  const algorithm = parseAlgorithm(param);
  for (const key of ['digest', 'mount']) {
    const value = ctx.query.get(key);
    if (value !== null && parseDigest(value).algorithm !== algorithm)
      throw new DomainError('digest-invalid', { digest: value.slice(0, 200) }, `${key} does not use the declared digest-algorithm ${algorithm}`);
  }
  return algorithm;
}

/** POST /v2/<name>/blobs/uploads/: mount, monolithic upload with ?digest=, or a new session. */
export async function startUpload(ctx: RouteContext): Promise<void> {
  const { registry, query } = ctx;
  const algorithm = declaredAlgorithm(ctx);
  const mount = query.get('mount');
  if (mount !== null) {
    const digest = parseDigest(mount);
    const fromParam = query.get('from');
    let from: string | undefined;
    if (fromParam !== null) {
      try {
        from = validateName(fromParam);
      } catch {
        from = undefined;
      }
    }
    // A `from` that is not a valid name cannot hold the blob, and one the caller may not pull must
    // not leak it: both fall back to a normal session. With auth on, a mount must name its source.
    const usable =
      fromParam === null ? ctx.options.authorize === undefined : from !== undefined && ctx.grant.allows('repository', from, 'pull');
    const mounted = usable ? await registry.blobs.mount(ctx.name, digest, from) : false;
    if (mounted) return blobCreated(ctx, digest, 'mount', from);
  }
  const digestParam = query.get('digest');
  if (digestParam !== null) {
    const digest = parseDigest(digestParam);
    const session = await registry.uploads.start(ctx.name);
    try {
      await registry.uploads.complete(session, digest, chunk(ctx));
    } catch (err) {
      // The client never learnt this session's id, so only we can remove its partial bytes before
      // the purge would, days later. Its error is the one to report: a failed delete is left to the
      // purge, and no Location is sent to a session that is gone.
      await registry.uploads.discard(session).catch(() => false);
      throw err;
    }
    return blobCreated(ctx, digest, 'push');
  }
  const session = await registry.uploads.start(ctx.name, algorithm);
  sendEmpty(ctx.res, 202, sessionHeaders(ctx, session));
}

async function resolve(ctx: RouteContext, withOffset = true): Promise<UploadSession> {
  return ctx.registry.uploads.resolve(ctx.name, ctx.param, ctx.query.get('_state') ?? undefined, withOffset);
}

export async function uploadStatus(ctx: RouteContext): Promise<void> {
  const session = await resolve(ctx);
  sendEmpty(ctx.res, 204, sessionHeaders(ctx, session));
}

export async function patchUpload(ctx: RouteContext): Promise<void> {
  const session = await resolve(ctx, false);
  const next = await withSession(ctx, session, () => ctx.registry.uploads.append(session, chunk(ctx)));
  sendEmpty(ctx.res, 202, sessionHeaders(ctx, next));
}

export async function completeUpload(ctx: RouteContext): Promise<void> {
  const digestParam = ctx.query.get('digest');
  if (digestParam === null) throw new DomainError('digest-invalid', {}, 'the digest query parameter is required');
  const digest = parseDigest(digestParam);
  const session = await resolve(ctx, false);
  await withSession(ctx, session, () => ctx.registry.uploads.complete(session, digest, hasBody(ctx) ? chunk(ctx) : undefined));
  await blobCreated(ctx, digest, 'push');
}

export async function cancelUpload(ctx: RouteContext): Promise<void> {
  const session = await resolve(ctx);
  await ctx.registry.uploads.cancel(session);
  sendEmpty(ctx.res, 204);
}
