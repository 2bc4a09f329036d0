import type { ViewContext } from '../context';
import { h } from '../dom';
import { bytes } from '../format';
import { explain } from './errors';

/** A child in a directory listing (`?dir=`, docs/architecture.md "Image insight: the report and its API"). */
interface Entry {
  name: string;
  path: string;
  type: string;
  size: number;
  entries?: number;
  layer: number;
  mode?: number;
  linkTarget?: string;
  opaque?: true;
  hidden?: true;
}
interface Page {
  status: string;
  total: number;
  entries: Entry[];
  next: string | null;
}

const TYPE_CHAR: Record<string, string> = { dir: 'd', file: '-', symlink: 'l', hardlink: 'h', char: 'c', block: 'b', fifo: 'p', whiteout: 'w' };
const PENDING_MS = 2000;
let ids = 0;

function modeText(type: string, mode: number | undefined): string {
  if (mode === undefined) return TYPE_CHAR[type] ?? '?';
  const rwx = [6, 3, 0].map((shift) => ['r', 'w', 'x'].map((c, i) => ((mode >> (shift + 2 - i)) & 1 ? c : '-')).join('')).join('');
  return `${TYPE_CHAR[type] ?? '?'}${rwx}`;
}

export interface TreeOptions {
  /** The API path of a directory's first page. */
  url: (dir: string) => string;
  /** A layer's tree (modes, later hides) or the final filesystem's (the layer of each path). */
  kind: 'layer' | 'final';
  /** Directories to open at once, outermost first (a deep link). */
  open: string[];
  /** Told of each directory the user opens, for the address bar. */
  onOpen: (dir: string) => void;
}

/**
 * A file tree that loads a directory's children when it is opened, a page at a time ("Show more").
 * Directories are disclosure buttons (aria-expanded), so Tab, Enter and Space are all it takes.
 */
export function fileTree(ctx: ViewContext, opts: TreeOptions): HTMLElement {
  const root = h('ul', { class: 'tree', 'data-testid': 'file-tree', 'aria-label': opts.kind === 'final' ? 'Final filesystem' : 'Files of the layer' });
  const box = h('div', { 'aria-live': 'polite' }, root);

  const row = (e: Entry, depthPath: string[]): HTMLLIElement => {
    const meta = h(
      'span',
      { class: 'tree-meta' },
      h('code', { class: 'mode' }, modeText(e.type, e.mode)),
      ' ',
      h('span', { class: 'num' }, bytes(e.size)),
      e.entries !== undefined ? h('span', { class: 'muted' }, ` · ${e.entries} ${e.entries === 1 ? 'entry' : 'entries'}`) : null,
      opts.kind === 'final' ? h('span', { class: 'muted' }, ` · layer ${e.layer}`) : null,
      e.linkTarget !== undefined ? h('span', { class: 'muted' }, ` → ${e.linkTarget}`) : null,
      e.hidden ? h('span', { class: 'badge warn' }, ' hidden by a later layer ') : null,
      e.type === 'whiteout' ? h('span', { class: 'badge warn' }, ' deletes this path ') : null,
      e.opaque ? h('span', { class: 'badge warn' }, ' opaque: hides lower layers ') : null,
    );
    if (e.type !== 'dir') return h('li', { class: e.hidden ? 'tree-file hidden-later' : 'tree-file' }, h('span', { class: 'tree-name' }, e.name), ' ', meta);
    const id = `tree-${++ids}`;
    const children = h('ul', { id, class: 'tree', hidden: true });
    const button = h('button', { type: 'button', class: 'tree-dir', 'aria-expanded': 'false', 'aria-controls': id, 'data-path': e.path }, `${e.name}/`);
    let loaded = false;
    const toggle = async (): Promise<void> => {
      const open = button.getAttribute('aria-expanded') !== 'true';
      button.setAttribute('aria-expanded', String(open));
      children.hidden = !open;
      if (open) opts.onOpen(e.path);
      if (open && !loaded) {
        loaded = true;
        await fill(children, opts.url(e.path), [...depthPath, e.name]);
      }
    };
    button.addEventListener('click', () => void toggle());
    (button as HTMLButtonElement & { open?: () => Promise<void> }).open = toggle;
    return h('li', { class: e.hidden ? 'hidden-later' : null }, button, ' ', meta, children);
  };

  async function fill(list: HTMLUListElement, url: string, depthPath: string[]): Promise<void> {
    const loading = h('li', { class: 'muted' }, 'Loading…');
    list.append(loading);
    try {
      const { body, res } = await ctx.api.json<Page>(url, { signal: ctx.signal });
      if (res.status === 202) {
        loading.textContent = 'The layers are still being analysed; the tree appears when they are.';
        setTimeout(() => {
          if (ctx.signal.aborted) return;
          loading.remove();
          void fill(list, url, depthPath);
        }, PENDING_MS);
        return;
      }
      loading.remove();
      if (body.entries.length === 0 && list.children.length === 0) list.append(h('li', { class: 'muted' }, 'Empty.'));
      for (const e of body.entries) list.append(row(e, depthPath));
      if (body.next !== null) {
        const next = body.next;
        const more = h('button', { type: 'button', class: 'more' }, `Show more (${list.querySelectorAll(':scope > li').length} of ${body.total})`);
        more.addEventListener('click', () => {
          more.parentElement?.remove();
          void fill(list, next, depthPath);
        });
        list.append(h('li', null, more));
      }
    } catch (err) {
      loading.remove();
      if (!ctx.signal.aborted) list.append(h('li', null, explain(err, ctx, 'list this directory')));
    }
  }

  // Opens the deep link's directories one after the other, each once its parent's page is in.
  const openPath = async (): Promise<void> => {
    let list = root;
    for (const dir of opts.open) {
      const button = [...list.querySelectorAll<HTMLButtonElement>(':scope > li > button.tree-dir')].find((b) => b.dataset.path === dir);
      if (!button) return;
      await (button as HTMLButtonElement & { open?: () => Promise<void> }).open?.();
      const inner = button.parentElement?.querySelector<HTMLUListElement>(':scope > ul');
      if (!inner) return;
      list = inner;
    }
  };
  void fill(root, opts.url('.'), []).then(openPath);
  return box;
}
