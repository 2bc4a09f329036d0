import { nextCursor } from '../api';
import type { ViewContext } from '../context';
import { add, h } from '../dom';
import { explain } from '../components/errors';
import { pager } from '../components/pager';
import { paths } from '../routes';
import { storageLink } from './storage';
import { fillSizes, sizeCell } from './repo-sizes';

const PAGE = 100;
/** A search reads the catalog this many names a request, and stops once a page of matches is found. */
const SCAN_PAGE = 1000;

interface Catalog {
  repositories: string[];
}

/** Names at once; sizes fill in after (repo-sizes.ts), so the first view waits for the catalog only. */
function list(ctx: ViewContext, names: string[]): HTMLElement {
  const cells = new Map(names.map((n) => [n, sizeCell()]));
  const rows = names.map((n) => h('tr', null, h('th', { scope: 'row' }, h('a', { href: ctx.href(paths.tags(n)), 'data-link': true }, n)), cells.get(n)));
  fillSizes(ctx, cells);
  return h(
    'table',
    { class: 'repo-table' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Repository'), h('th', { scope: 'col', class: 'num', title: 'Bytes of its blobs, layers shared between its images counted once' }, 'Size'))),
    h('tbody', null, rows),
  );
}

/**
 * The registry has no search: names matching `q` (a substring, any case) are found by reading the
 * catalog in order, from `last`, until a page of them is found; the next page goes on from there.
 */
async function search(ctx: ViewContext, q: string, last: string): Promise<{ matches: string[]; next?: string; scanned: number }> {
  const needle = q.toLowerCase();
  const matches: string[] = [];
  let cursor = last;
  let scanned = 0;
  for (;;) {
    const { body, res } = await ctx.api.json<Catalog>(`/v2/_catalog?n=${SCAN_PAGE}${cursor ? `&last=${encodeURIComponent(cursor)}` : ''}`, { signal: ctx.signal });
    for (const name of body.repositories) {
      scanned++;
      cursor = name;
      if (!name.toLowerCase().includes(needle)) continue;
      matches.push(name);
      if (matches.length === PAGE) return { matches, next: name, scanned };
    }
    if (nextCursor(res) === undefined) return { matches, scanned };
  }
}

export async function repositoriesView(ctx: ViewContext, q: string, last: string): Promise<HTMLElement> {
  const input = h('input', { type: 'search', id: 'repo-search', name: 'q', value: q, autocomplete: 'off', placeholder: 'name or part of a name' });
  const form = h('form', { role: 'search', class: 'search' }, h('label', { for: 'repo-search' }, 'Search repositories'), input, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (e) => {
    // No form submission ever leaves the page (CSP form-action 'none'): the query becomes the URL.
    e.preventDefault();
    ctx.navigate(paths.repositories(input.value.trim()));
  });
  const section = h('section', { 'aria-labelledby': 'repos-title' }, h('h1', { id: 'repos-title' }, 'Repositories'), storageLink(ctx), form);
  try {
    if (q) {
      const found = await search(ctx, q, last);
      add(section, 
        h('p', { class: 'muted', role: 'status' }, `${found.matches.length} ${found.matches.length === 1 ? 'repository' : 'repositories'} matching “${q}”${last ? ` after ${last}` : ''} (${found.scanned} read).`),
        list(ctx, found.matches),
      );
      const nav = pager((l) => ctx.href(paths.repositories(q, l)), last, found.next, 'Search result pages');
      if (nav) add(section, nav);
    } else {
      const { body, res } = await ctx.api.json<Catalog>(`/v2/_catalog?n=${PAGE}${last ? `&last=${encodeURIComponent(last)}` : ''}`, { signal: ctx.signal });
      add(section, body.repositories.length === 0 ? h('p', { class: 'muted' }, last ? 'No more repositories.' : 'No repositories you may see.') : list(ctx, body.repositories));
      const nav = pager((l) => ctx.href(paths.repositories('', l)), last, nextCursor(res), 'Repository pages');
      if (nav) add(section, nav);
    }
  } catch (err) {
    add(section, explain(err, ctx, 'list the repositories'));
  }
  return section;
}
