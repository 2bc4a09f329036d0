import { ApiError, nextCursor } from '../api';
import type { ViewContext } from '../context';
import { add, h } from '../dom';
import { explain } from '../components/errors';
import { pager } from '../components/pager';
import { bytes, date, relativeTime, shortDigest } from '../format';
import { paths } from '../routes';

const PAGE = 100;

/** A tag as GET /v2/<name>/_berth/tags describes it (src/details/tag-details.ts). */
interface TagDetail {
  name: string;
  digest: string;
  mediaType: string | null;
  size: number | null;
  platforms: string[];
  pushedAt: string;
}

function copyDigest(ctx: ViewContext, tag: string, digest: string): HTMLElement {
  const button = h('button', { type: 'button', class: 'copy small', 'aria-label': `Copy the digest of ${tag}`, title: 'Copy the full digest' }, 'Copy');
  button.addEventListener('click', () => {
    navigator.clipboard.writeText(digest).then(
      () => ctx.announce(`Copied: ${digest}`),
      () => ctx.announce('The browser refused access to the clipboard: open the image to select its digest.', 'error'),
    );
  });
  return button;
}

function row(ctx: ViewContext, name: string, t: TagDetail): HTMLElement {
  return h(
    'tr',
    null,
    h('th', { scope: 'row' }, h('a', { href: ctx.href(paths.image(name, t.name)), 'data-link': true }, t.name)),
    h('td', { class: 'digest' }, h('code', { title: t.digest }, shortDigest(t.digest)), ' ', copyDigest(ctx, t.name, t.digest)),
    h('td', { class: 'num', title: t.size === null ? 'part of the image is missing from the registry' : `${t.size} bytes` }, t.size === null ? '—' : bytes(t.size)),
    h('td', null, t.platforms.length === 0 ? h('span', { class: 'muted' }, '—') : t.platforms.join(', ')),
    h('td', null, h('time', { datetime: t.pushedAt, title: date(t.pushedAt) }, relativeTime(t.pushedAt))),
  );
}

function table(ctx: ViewContext, name: string, tags: TagDetail[]): HTMLElement {
  return h(
    'table',
    { class: 'tag-table' },
    h('caption', null, 'Tags in the registry’s order, with the image each names'),
    h('thead', null, h('tr', null, ['Tag', 'Digest', 'Size', 'Platforms', 'Pushed'].map((c) => h('th', c === 'Size' ? { scope: 'col', class: 'num' } : { scope: 'col' }, c)))),
    h('tbody', null, tags.map((t) => row(ctx, name, t))),
  );
}

/** Names only, from the tags list: a repository a mirror serves from its upstream has no local details. */
async function names(ctx: ViewContext, name: string, last: string): Promise<{ list: HTMLElement | null; next?: string }> {
  const { body, res } = await ctx.api.json<{ tags: string[] | null }>(`/v2/${name}/tags/list?n=${PAGE}${last ? `&last=${encodeURIComponent(last)}` : ''}`, { signal: ctx.signal });
  const tags = body.tags ?? [];
  const list = tags.length === 0 ? null : h('ul', { class: 'tag-list' }, tags.map((t) => h('li', null, h('a', { href: ctx.href(paths.image(name, t)), 'data-link': true }, t))));
  return { list, next: nextCursor(res) };
}

/** A repository's tags, in the registry's order (sorted), a page at a time, with digest, size, platforms and push time. */
export async function tagsView(ctx: ViewContext, name: string, last: string): Promise<HTMLElement> {
  const section = h(
    'section',
    { 'aria-labelledby': 'tags-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: ctx.href(paths.repositories()), 'data-link': true }, 'Repositories'), ' / '),
    h('h1', { id: 'tags-title' }, name),
  );
  try {
    let list: HTMLElement | null;
    let next: string | undefined;
    try {
      const { body, res } = await ctx.api.json<{ tags: TagDetail[] }>(`/v2/${name}/_berth/tags?n=${PAGE}${last ? `&last=${encodeURIComponent(last)}` : ''}`, { signal: ctx.signal });
      list = body.tags.length === 0 ? null : table(ctx, name, body.tags);
      next = nextCursor(res);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404 && err.code === 'NAME_UNKNOWN')) throw err;
      ({ list, next } = await names(ctx, name, last));
    }
    add(section, h('h2', null, 'Tags'));
    add(section, list ?? h('p', { class: 'muted' }, last ? 'No more tags.' : 'This repository has no tags.'));
    const nav = pager((l) => ctx.href(paths.tags(name, l)), last, next, 'Tag pages');
    if (nav) add(section, nav);
  } catch (err) {
    add(section, explain(err, ctx, `list the tags of ${name}`));
  }
  return section;
}
