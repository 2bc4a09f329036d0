import type { ViewContext } from '../context';
import { h } from '../dom';
import { bytes } from '../format';

/** Usage requests in flight at once: the browser's connections stay free for what the user clicks. */
const WINDOW = 4;

/** A size cell: `…` until its repository's usage arrives. */
export function sizeCell(): HTMLTableCellElement {
  return h('td', { class: 'num', 'aria-busy': 'true' }, h('span', { class: 'muted' }, '…'));
}

/**
 * Fills each repository's size (GET /v2/<name>/_berth/usage: its blobs, each once) after the names
 * are shown, a few at a time. A repository the user may not pull, or whose size cannot be read,
 * shows `—`: the API decides, so no size of a repository the user cannot pull is ever shown.
 */
export function fillSizes(ctx: ViewContext, cells: Map<string, HTMLTableCellElement>): void {
  const queue = [...cells];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item && !ctx.signal.aborted; item = queue.shift()) {
      const [name, cell] = item;
      try {
        const { body } = await ctx.api.json<{ bytes: number; blobs: number }>(`/v2/${name}/_berth/usage`, { signal: ctx.signal });
        cell.replaceChildren(bytes(body.bytes));
        cell.title = `${body.bytes} bytes in ${body.blobs} blobs, each counted once`;
      } catch {
        cell.replaceChildren(h('span', { class: 'muted' }, '—'));
        cell.title = 'size unknown or not yours to see';
      }
      cell.removeAttribute('aria-busy');
    }
  };
  for (let i = 0; i < WINDOW; i++) void worker();
}
