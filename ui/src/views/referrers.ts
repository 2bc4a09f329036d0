import { MANIFEST_TYPES, nextCursor } from '../api';
import { artifactKind } from '../artifacts';
import type { ViewContext } from '../context';
import { add, h } from '../dom';
import { bytes, date, shortDigest } from '../format';
import type { Descriptor } from '../manifest';
import { paths } from '../routes';

/** Pages of the referrers API read at most (the registry sends up to 1,000 a page): enough for any real image. */
const MAX_PAGES = 5;
const CREATED = 'org.opencontainers.image.created';

interface Listing {
  referrers: Descriptor[];
  more: boolean;
}

/** Every referrer of `digest` (OCI 1.1 `GET /v2/<name>/referrers/<digest>`), following `Link` pages. */
async function listReferrers(ctx: ViewContext, name: string, digest: string): Promise<Listing> {
  const referrers: Descriptor[] = [];
  let last: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q = last ? `?last=${encodeURIComponent(last)}` : '';
    const { body, res } = await ctx.api.json<{ manifests?: Descriptor[] }>(`/v2/${name}/referrers/${digest}${q}`, {
      headers: { accept: MANIFEST_TYPES[0] },
      signal: ctx.signal,
    });
    referrers.push(...(body.manifests ?? []));
    last = nextCursor(res);
    if (!last) return { referrers, more: false };
  }
  return { referrers, more: true };
}

function kindCell(type: string | undefined): HTMLElement {
  const kind = artifactKind(type);
  if (!type) return h('td', null, h('span', { class: 'muted' }, 'no artifact type'));
  // The friendly name first, the exact type under it: both are searchable on the page.
  return h('td', null, kind ? [h('span', { class: 'artifact-kind' }, kind), h('br'), h('code', { class: 'muted' }, type)] : h('code', null, type));
}

/** What refers to the image (signatures, SBOMs, attestations), each linking to its own image page. */
export async function referrersSection(ctx: ViewContext, name: string, digest: string): Promise<HTMLElement> {
  const section = h('section', { 'aria-labelledby': 'referrers-title' });
  let listing: Listing;
  try {
    listing = await listReferrers(ctx, name, digest);
  } catch (err) {
    // The image is shown anyway: referrers are an extra, and their absence must not hide it.
    section.append(h('h2', { id: 'referrers-title' }, 'Referrers'), h('p', { class: 'muted' }, `The referrers could not be listed: ${err instanceof Error ? err.message : String(err)}`));
    return section;
  }
  const { referrers, more } = listing;
  section.append(h('h2', { id: 'referrers-title' }, `Referrers (${referrers.length}${more ? '+' : ''})`));
  if (referrers.length === 0) {
    section.append(h('p', { class: 'muted' }, 'Nothing refers to this image: no signatures, SBOMs or attestations were pushed for it.'));
    return section;
  }
  add(
    section,
    h(
      'table',
      { class: 'referrers' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Digest'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'Created'))),
      h(
        'tbody',
        null,
        referrers.map((r) =>
          h(
            'tr',
            null,
            kindCell(r.artifactType),
            h('td', null, h('a', { href: ctx.href(paths.image(name, r.digest)), 'data-link': true, title: r.digest }, h('code', null, shortDigest(r.digest)))),
            h('td', { class: 'num' }, bytes(r.size)),
            h('td', null, date(r.annotations?.[CREATED])),
          ),
        ),
      ),
    ),
    more ? h('p', { class: 'muted' }, `Only the first ${referrers.length} referrers are shown.`) : null,
  );
  return section;
}
