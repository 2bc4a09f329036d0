import { nextCursor } from '../api';
import type { ViewContext } from '../context';
import { add, h } from '../dom';
import { explain } from '../components/errors';
import { pager } from '../components/pager';
import { paths } from '../routes';

const PAGE = 100;

/** A repository's tags, in the registry's order (sorted), a page at a time. */
export async function tagsView(ctx: ViewContext, name: string, last: string): Promise<HTMLElement> {
  const section = h(
    'section',
    { 'aria-labelledby': 'tags-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: ctx.href(paths.repositories()), 'data-link': true }, 'Repositories'), ' / '),
    h('h1', { id: 'tags-title' }, name),
  );
  try {
    const { body, res } = await ctx.api.json<{ tags: string[] | null }>(`/v2/${name}/tags/list?n=${PAGE}${last ? `&last=${encodeURIComponent(last)}` : ''}`, { signal: ctx.signal });
    const tags = body.tags ?? [];
    add(section, h('h2', null, 'Tags'));
    add(section, 
      tags.length === 0
        ? h('p', { class: 'muted' }, last ? 'No more tags.' : 'This repository has no tags.')
        : h('ul', { class: 'tag-list' }, tags.map((t) => h('li', null, h('a', { href: ctx.href(paths.image(name, t)), 'data-link': true }, t)))),
    );
    const nav = pager((l) => ctx.href(paths.tags(name, l)), last, nextCursor(res), 'Tag pages');
    if (nav) add(section, nav);
  } catch (err) {
    add(section, explain(err, ctx, `list the tags of ${name}`));
  }
  return section;
}
