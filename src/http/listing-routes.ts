import { parseDigest } from '../oci/digest';
import type { Page } from '../oci/listing';
import { MEDIA_TYPES } from '../oci/manifest-parse';
import { parseCount } from './ranges';
import { sendJson, type RouteContext } from './context';

/** Referrers pages are bounded so that one subject with many signatures cannot make a huge body. */
const REFERRERS_PAGE = 1000;

export function nextLink(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  return `<${path}?${q.toString()}>; rel="next"`;
}

export async function base(ctx: RouteContext): Promise<void> {
  sendJson(ctx.res, 200, {});
}

export async function listTags(ctx: RouteContext): Promise<void> {
  const n = parseCount(ctx.query.get('n'));
  const last = ctx.query.get('last') ?? undefined;
  const page = await ctx.registry.listing.tags(ctx.name, n, last);
  const headers: Record<string, string> = {};
  if (page.next !== undefined) headers.Link = nextLink(`/v2/${ctx.name}/tags/list`, { n, last: page.next });
  sendJson(ctx.res, 200, { name: ctx.name, tags: page.items }, headers);
}

/** The catalog limited to what `canList` admits, paged over the full one. */
async function filteredCatalog(ctx: RouteContext, n: number | undefined, last: string | undefined): Promise<Page> {
  const items: string[] = [];
  const want = n === undefined ? Infinity : n;
  if (want === 0) return { items };
  let cursor = last;
  for (;;) {
    const page = await ctx.registry.listing.catalog(Math.max(100, n ?? 0), cursor);
    for (const name of page.items) {
      if (!ctx.grant.canList(name)) continue;
      if (items.length === want) return { items, next: items[items.length - 1] };
      items.push(name);
    }
    if (page.next === undefined) return { items };
    cursor = page.next;
  }
}

export async function catalog(ctx: RouteContext): Promise<void> {
  const n = parseCount(ctx.query.get('n'));
  const last = ctx.query.get('last') ?? undefined;
  const full = ctx.grant.allows('registry', 'catalog', '*');
  const page = full ? await ctx.registry.listing.catalog(n, last) : await filteredCatalog(ctx, n, last);
  const headers: Record<string, string> = {};
  if (page.next !== undefined) headers.Link = nextLink('/v2/_catalog', { n, last: page.next });
  sendJson(ctx.res, 200, { repositories: page.items }, headers);
}

/** The referrers index body every referrers answer carries, local or an upstream's. */
export function sendReferrers(ctx: RouteContext, manifests: unknown[], headers: Record<string, string>): void {
  sendJson(ctx.res, 200, { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, headers, MEDIA_TYPES.ociIndex);
}

export async function listReferrers(ctx: RouteContext): Promise<void> {
  const subject = parseDigest(ctx.param);
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  const n = Math.min(parseCount(ctx.query.get('n')) ?? REFERRERS_PAGE, REFERRERS_PAGE);
  const last = ctx.query.get('last') ?? undefined;
  const page = await ctx.registry.referrers.list(ctx.name, subject, { artifactType, n, last });
  const headers: Record<string, string> = {};
  if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
  if (page.next !== undefined)
    headers.Link = nextLink(`/v2/${ctx.name}/referrers/${subject.value}`, { n, artifactType, last: page.next });
  sendReferrers(ctx, page.descriptors, headers);
}
