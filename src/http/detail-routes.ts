import { sendJson, type RouteContext } from './context';
import { nextLink } from './listing-routes';
import { parseCount } from './ranges';

/** A page of details is read and held before it is sent: bounded as referrers pages are. */
const MAX_TAG_PAGE = 1000;
const DEFAULT_TAG_PAGE = 100;

/**
 * GET /v2/<name>/_berth/tags?n=&last=: the tags list's page (same order, same cursor, a Link to the
 * next) with each tag's digest, media type, size, platforms and push time (src/details/tag-details.ts).
 */
export async function listTagDetails(ctx: RouteContext): Promise<void> {
  const n = Math.min(parseCount(ctx.query.get('n')) ?? DEFAULT_TAG_PAGE, MAX_TAG_PAGE);
  const last = ctx.query.get('last') ?? undefined;
  const page = await ctx.registry.details.tags.page(ctx.name, n, last, ctx.signal);
  const headers: Record<string, string> = {};
  if (page.next !== undefined) headers.Link = nextLink(`/v2/${ctx.name}/_berth/tags`, { n, last: page.next });
  sendJson(ctx.res, 200, { name: ctx.name, tags: page.tags }, headers);
}

/** GET /v2/<name>/_berth/usage: the bytes the repository's manifests reach, each blob once (src/details/repository-usage.ts). */
export async function getUsage(ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, await ctx.registry.details.usage.get(ctx.name));
}
