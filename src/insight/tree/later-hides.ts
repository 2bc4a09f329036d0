import { pathComponents } from '../entry-path';
import type { DirChild, DirIndex } from './dir-index';

/**
 * Whether the layers above a listed layer hide its children in `dir` (`later`: their directory
 * indexes, in any order): once a layer hides a lower layer's path, no later layer brings that content
 * back, so "any later layer hides it" is the answer. A later layer hides a child when it has, at the
 * child's path or at one of its ancestors, a whiteout or an entry that is not a directory (a file
 * replacing it), when an ancestor (or `dir` itself) is opaque in it, or, for a file, when it has any
 * entry at the same path; a directory over a directory merges and hides nothing. Reads only the later
 * layers (small, usually, above a big base), never the whole image.
 */
export function markHidden(dir: string, children: DirChild[], later: DirIndex[]): DirChild[] {
  const parts = pathComponents(dir);
  const live = later.filter((index) => !hidesAll(index, parts));
  if (live.length < later.length) return children.map((c) => (c.type === 'whiteout' ? c : { ...c, hidden: true }));
  return children.map((c) => {
    if (c.type === 'whiteout') return c;
    const hidden = live.some((index) => {
      const id = index.find(c.path);
      if (id === undefined) return false;
      return !(c.type === 'dir' && index.isDir(id));
    });
    return hidden ? { ...c, hidden: true } : c;
  });
}

// Whether `index` hides everything lower layers put below the directory `parts`.
function hidesAll(index: DirIndex, parts: string[]): boolean {
  for (let i = 0; i <= parts.length; i++) {
    const id = index.find(parts.slice(0, i).join('/') || '.');
    if (id === undefined) return false;
    if (!index.isDir(id) || index.isOpaque(id)) return true;
  }
  return false;
}
