import { pathComponents } from '../entry-path';
import type { LayerEntry } from '../layer-entry';
import { DirIndex, type BuildNode } from './dir-index';

/**
 * The directory tree of one layer's own entries, in the order the layer applies them: a path
 * listed twice keeps its last entry (a directory re-declared keeps its children), parents a tar
 * omits are made, a whiteout stands at the path it hides (type `whiteout`), and an opaque marker
 * marks its directory (`opaque`). Memory while building: one node per path of the layer.
 */
export async function layerDirIndex(entries: AsyncIterable<LayerEntry>, index: number): Promise<DirIndex> {
  const root = dirNode(index);
  for await (const entry of entries) {
    const parts = pathComponents(entry.path);
    if (entry.type === 'opaque') {
      directory(root, parts, index).opaque = true;
      continue;
    }
    if (parts.length === 0) {
      Object.assign(root, attributes(entry));
      continue;
    }
    const parent = directory(root, parts, index, parts.length - 1);
    const name = parts[parts.length - 1];
    const existing = parent.children!.get(name);
    if (entry.type === 'dir' && existing?.children !== undefined) {
      Object.assign(existing, attributes(entry));
      continue;
    }
    // One shape for every node: property reads stay monomorphic over a million of them.
    const node: BuildNode = {
      type: entry.type,
      size: entry.type === 'file' ? entry.size : 0,
      layer: index,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      linkTarget: entry.linkTarget,
      opaque: false,
      children: entry.type === 'dir' ? new Map() : undefined,
    };
    parent.children!.set(name, node);
  }
  return DirIndex.freeze(root, true);
}

function attributes(entry: LayerEntry): { mode: number; uid: number; gid: number } {
  return { mode: entry.mode, uid: entry.uid, gid: entry.gid };
}

function dirNode(layer: number): BuildNode {
  return { type: 'dir', size: 0, layer, mode: undefined, uid: undefined, gid: undefined, linkTarget: undefined, opaque: false, children: new Map() };
}

// The directory at `parts`, made (without mode or owner: the tar did not list it) where missing.
function directory(root: BuildNode, parts: string[], layer: number, depth = parts.length): BuildNode {
  let node = root;
  for (let i = 0; i < depth; i++) {
    const part = parts[i];
    let child = node.children!.get(part);
    if (child?.children === undefined) {
      child = dirNode(layer);
      node.children!.set(part, child);
    }
    node = child;
  }
  return node;
}
