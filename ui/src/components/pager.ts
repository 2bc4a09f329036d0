import { h } from '../dom';

/** First page / next page links; pages are cursors (`last`), as the registry pages its lists. */
export function pager(href: (last: string) => string, current: string, next: string | undefined, label: string): HTMLElement | null {
  if (!current && next === undefined) return null;
  return h(
    'nav',
    { class: 'pager', 'aria-label': label },
    current ? h('a', { href: href(''), 'data-link': true }, '« First page') : null,
    next !== undefined ? h('a', { href: href(next), 'data-link': true, rel: 'next' }, 'Next page »') : null,
  );
}
