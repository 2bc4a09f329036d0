import type { Readable } from 'node:stream';
import { checkPushSecrets } from '../insight/push-policy';
import { DomainError } from '../oci/errors';
import { isDigest, parseDigest } from '../oci/digest';
import { isValidTag, validateTag } from '../oci/names';
import type { ManifestRef, PutResult, StoredManifest } from '../oci/manifests';
import type { ParsedManifest } from '../oci/manifest-parse';
import { contentLength } from './ranges';
import { baseUrl } from './urls';
import { sendEmpty, type RouteContext } from './context';
import { eventOrigin, manifestTarget, recordEvents, wantsManifestContent } from './events';

function reference(param: string): ManifestRef {
  return isDigest(param) ? { digest: parseDigest(param) } : { tag: validateTag(param) };
}

/** Nothing can be stored under a tag that breaks the grammar, so reading one is a plain 404. */
export function readReference(param: string): ManifestRef {
  if (!isDigest(param) && !isValidTag(param)) throw new DomainError('manifest-unknown', { tag: param.slice(0, 200) });
  return reference(param);
}

function tooLarge(max: number): DomainError {
  return new DomainError('too-large', { limit: max }, `manifest larger than ${max} bytes`);
}

/**
 * Manifests are small and bounded: read at most `max` bytes, 413 beyond. An oversized body is
 * read and discarded up to a point, so that a client still writing it sees the 413 instead of a
 * broken pipe; past that (or when Content-Length already says so) the connection is closed.
 */
async function readBounded(body: Readable, declared: number | undefined, max: number): Promise<Buffer> {
  const drainLimit = Math.max(4 * max, 64 * 1024 * 1024);
  if (declared !== undefined && declared > drainLimit) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > drainLimit) throw tooLarge(max);
    if (total <= max) chunks.push(chunk);
  }
  if (total > max) throw tooLarge(max);
  return Buffer.concat(chunks, total);
}

export async function getManifest(ctx: RouteContext): Promise<void> {
  const ref = readReference(ctx.param);
  const head = ctx.req.method === 'HEAD';
  // A HEAD reads the content too when its pull event lists the manifest's references.
  const m = head && !wantsManifestContent(ctx, 'pull') ? await ctx.registry.manifests.head(ctx.name, ref) : await ctx.registry.manifests.get(ctx.name, ref);
  await sendManifest(ctx, ref, m);
}

/** Answers a manifest GET or HEAD with `m` (a HEAD's body is left out): 304 when the client has it. */
export async function sendManifest(ctx: RouteContext, ref: ManifestRef, m: StoredManifest | (StoredManifest & { bytes: Buffer })): Promise<void> {
  const head = ctx.req.method === 'HEAD';
  const bytes = 'bytes' in m ? m.bytes : undefined;
  const res = ctx.res;
  res.setHeader('Docker-Content-Digest', m.digest.value);
  res.setHeader('ETag', `"${m.digest.value}"`);
  // As Distribution: a client that has the manifest gets no body and causes no pull event.
  if (notModified(ctx.req.headers['if-none-match'], m.digest.value)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  // HEAD is a pull too, as in Distribution (whose HEAD handler is its GET handler).
  await recordEvents(ctx, 'pull', [manifestTarget(ctx, m, bytes, ref.tag)]);
  res.statusCode = 200;
  res.setHeader('Content-Type', m.mediaType);
  res.setHeader('Content-Length', m.size);
  res.end(head ? undefined : bytes);
}

/** If-None-Match names the manifest's ETag (a list of them, quoted or not, weak or not, or `*`). */
function notModified(header: string | undefined, digest: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === '*' || t === digest || t === `"${digest}"`;
  });
}

/**
 * The `tag` query parameters of a push by digest (end-7b), validated before anything is stored. The
 * spec defines them on pushes by digest only; on a push by tag they are refused rather than
 * dropped, since a client that sent them would otherwise believe them applied.
 */
function extraTags(ctx: RouteContext, ref: ManifestRef): string[] {
  const tags = ctx.query.getAll('tag');
  if (tags.length > 0 && ref.tag !== undefined)
    throw new DomainError('manifest-invalid', { tag: ref.tag }, 'tag query parameters apply only to a push by digest');
  return tags.map(validateTag);
}

export async function putManifest(ctx: RouteContext): Promise<void> {
  const ref = reference(ctx.param);
  const tags = extraTags(ctx, ref);
  const max = ctx.options.manifestMaxSize;
  const bytes = await readBounded(ctx.req, contentLength(ctx.req.headers['content-length']), max);
  const insight = ctx.options.insight;
  const beforeWrite =
    insight &&
    (async (manifest: ParsedManifest) => {
      const { pending } = await checkPushSecrets({ registry: ctx.registry, insight, name: ctx.name, manifest, signal: ctx.signal });
      if (pending.length > 0) insight.logger?.warn({ repository: ctx.name, layers: pending }, 'insight: push accepted before the secret search of its layers finished (insight.ontimeout: accept)');
    });
  const result = await ctx.registry.manifests.put(ctx.name, ref, bytes, ctx.req.headers['content-type'], tags, { maxDescriptors: ctx.options.manifestMaxDescriptors, beforeWrite });
  const target = manifestTarget(ctx, { mediaType: result.mediaType, size: bytes.length, digest: result.digest }, bytes);
  // One event per tag, as Distribution sends for each tag it sets; a push by digest alone has none.
  await recordEvents(ctx, 'push', result.tags.length > 0 ? result.tags.map((tag) => ({ ...target, tag })) : [target]);
  const base = baseUrl(ctx.req, { host: ctx.options.host, relative: ctx.options.relativeUrls });
  const headers: Record<string, string | string[]> = {
    Location: `${base}/v2/${ctx.name}/manifests/${result.digest.value}`,
    'Docker-Content-Digest': result.digest.value,
  };
  if (result.subject) headers['OCI-Subject'] = result.subject.value;
  // One header per tag: RFC 9110 lets a client read them as one list, and a tag holds no comma.
  if (ref.digest && result.tags.length > 0) headers['OCI-Tag'] = result.tags;
  watchForSecrets(ctx, result, bytes.length);
  sendEmpty(ctx.res, 201, headers);
}

/** Under `warn`, the image's findings are logged (and sent as an event) once its layers are analysed. */
function watchForSecrets(ctx: RouteContext, result: PutResult, size: number): void {
  const pushes = ctx.options.insight?.pushes;
  if (!pushes) return;
  // An index has no layers of its own: each of its images was watched at its own PUT.
  const { config, layers } = result;
  if (layers.length === 0 && config === undefined) return;
  pushes.watch({ name: ctx.name, digest: result.digest.value, mediaType: result.mediaType, size, tags: result.tags, layers, config, origin: eventOrigin(ctx) });
}

export async function deleteManifest(ctx: RouteContext): Promise<void> {
  const ref = readReference(ctx.param);
  // As Distribution: the digest for a manifest, then each tag that went with it; the tag alone for a tag.
  if (ref.digest) {
    const tags = await ctx.registry.manifests.deleteByDigest(ctx.name, ref.digest);
    await recordEvents(ctx, 'delete', [{ digest: ref.digest.value }, ...tags.map((tag) => ({ tag }))]);
  } else {
    await ctx.registry.manifests.deleteTag(ctx.name, ref.tag);
    await recordEvents(ctx, 'delete', [{ tag: ref.tag }]);
  }
  sendEmpty(ctx.res, 202);
}
