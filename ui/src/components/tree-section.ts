import type { ViewContext } from '../context';
import { h } from '../dom';
import { paths } from '../routes';
import { fileTree } from './file-tree';

/** `a/b/c` -> `a`, `a/b`, `a/b/c`: the directories a deep link opens, outermost first. */
function ancestry(dir: string): string[] {
  const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * The file tree of the final filesystem or of one layer, chosen in a list; the address says which
 * and the directory last opened (`?layer=final|<i>&dir=<path>`), so a tree can be linked to.
 */
export function treeSection(ctx: ViewContext, name: string, reference: string, layers: Array<{ index: number; createdBy?: string }>, initial: { layer: string; dir: string }): HTMLElement {
  const valid = initial.layer === 'final' || layers.some((l) => String(l.index) === initial.layer);
  let layer = valid ? initial.layer : 'final';
  const select = h(
    'select',
    { id: 'tree-layer' },
    h('option', { value: 'final' }, 'Final filesystem (all layers applied)'),
    layers.map((l) => h('option', { value: String(l.index) }, `Layer ${l.index}${l.createdBy ? `: ${l.createdBy.slice(0, 80)}` : ''}`)),
  );
  select.value = layer;
  const holder = h('div');
  const base = `/v2/${name}/_berth/insight/${reference}`;
  const show = (open: string[]) => {
    const url = (dir: string) => `${layer === 'final' ? base : `${base}/layers/${layer}`}/files?dir=${encodeURIComponent(dir)}`;
    const onOpen = (dir: string) => history.replaceState(null, '', ctx.href(paths.insight(name, reference, { layer, dir })));
    holder.replaceChildren(fileTree(ctx, { url, kind: layer === 'final' ? 'final' : 'layer', open, onOpen }));
  };
  select.addEventListener('change', () => {
    layer = select.value;
    history.replaceState(null, '', ctx.href(paths.insight(name, reference, { layer })));
    show([]);
  });
  show(valid ? ancestry(initial.dir) : []);
  return h(
    'section',
    { 'aria-labelledby': 'tree-title' },
    h('h2', { id: 'tree-title' }, 'Files'),
    h('p', { class: 'search' }, h('label', { for: 'tree-layer' }, 'Show'), select),
    h('p', { class: 'muted' }, 'Open a directory to load its contents, 100 entries at a time. Sizes of directories are the bytes of all files below them.'),
    holder,
  );
}
