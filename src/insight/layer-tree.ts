import { pathComponents } from './entry-path';
import type { EntryType } from './layer-entry';

/** One path of the merged filesystem. */
interface Node {
  type: EntryType;
  /** The last layer that declared this path (a directory re-declared above keeps its children). */
  layer: number;
  /** Content bytes, shared with every hard link to it. */
  size: number;
  /** Identity of the content (a regular file and its hard links share it); -1 for no content. */
  content: number;
  /** The layer that shipped the content (for a hard link, its target's). */
  contentLayer: number;
  children?: Map<string, Node>;
}

/** Content that left the filesystem: the last path it had, and the layer that removed it. */
export interface Removal {
  path: string;
  size: number;
  contentLayer: number;
  hiddenBy: number;
}

/**
 * The filesystem that applying layers in order builds, as overlay and containerd's applier do:
 * whiteouts and opaque markers hide lower layers only, an entry replaces what had its path
 * (a directory over a directory merges). Memory: one node per path alive in the filesystem.
 */
export class LayerTree {
  private readonly root: Node = { type: 'dir', layer: -1, size: 0, content: -1, contentLayer: -1, children: new Map() };
  private nextContent = 0;

  constructor(private readonly onRemoved: (content: number, removal: Removal) => void) {}

  /** The root directory, read-only: for listings of the merged filesystem (tree/image-tree.ts). */
  get top(): Readonly<Node> {
    return this.root;
  }

  /** Adds a file, directory, link or device of layer `layer`, replacing what had its path. */
  add(path: string, type: EntryType, size: number, layer: number, linkTarget?: string): void {
    const parts = pathComponents(path);
    if (parts.length === 0) return;
    const parent = this.directory(parts.slice(0, -1), layer);
    const name = parts[parts.length - 1];
    const existing = parent.children!.get(name);
    if (type === 'dir' && existing?.type === 'dir') {
      existing.layer = layer;
      return;
    }
    if (existing !== undefined) this.remove(path, existing, layer);
    const node: Node = { type, layer, size: 0, content: -1, contentLayer: layer };
    if (type === 'dir') node.children = new Map();
    if (type === 'file') Object.assign(node, { size, content: this.nextContent++ });
    if (type === 'hardlink' && linkTarget !== undefined) {
      const target = this.lookup(linkTarget);
      if (target !== undefined && target.content >= 0)
        Object.assign(node, { size: target.size, content: target.content, contentLayer: target.contentLayer });
    }
    parent.children!.set(name, node);
  }

  /** `.wh.<name>`: hides `path` and what lower layers put under it. */
  whiteout(path: string, layer: number): void {
    const parts = pathComponents(path);
    const parent = this.lookupParts(parts.slice(0, -1));
    const name = parts[parts.length - 1];
    const node = parent?.children?.get(name);
    if (node !== undefined && this.pruneLower(path, node, layer)) parent!.children!.delete(name);
  }

  /** `.wh..wh..opq`: hides what lower layers put in `dir`, keeping the directory itself. */
  opaque(dir: string, layer: number): void {
    const node = this.lookup(dir);
    if (node?.children !== undefined) this.pruneChildren(dir, node, layer);
  }

  /** Content ids still reachable and their bytes, each counted once however many links it has. */
  reachable(): { contents: Set<number>; bytes: number } {
    const contents = new Set<number>();
    let bytes = 0;
    const stack: Node[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.content >= 0 && !contents.has(node.content)) {
        contents.add(node.content);
        bytes += node.size;
      }
      if (node.children !== undefined) stack.push(...node.children.values());
    }
    return { contents, bytes };
  }

  private lookup(path: string): Node | undefined {
    return this.lookupParts(pathComponents(path));
  }

  private lookupParts(parts: string[]): Node | undefined {
    let node: Node | undefined = this.root;
    for (const part of parts) node = node?.children?.get(part);
    return node;
  }

  // The directory at `parts`, created for entries whose tar omits their parents; a non-directory
  // in the way is replaced, as extracting the layer would.
  private directory(parts: string[], layer: number): Node {
    let node = this.root;
    parts.forEach((part, i) => {
      let child = node.children!.get(part);
      if (child?.children === undefined) {
        if (child !== undefined) this.remove(parts.slice(0, i + 1).join('/'), child, layer);
        child = { type: 'dir', layer, size: 0, content: -1, contentLayer: layer, children: new Map() };
        node.children!.set(part, child);
      }
      node = child;
    });
    return node;
  }

  private remove(path: string, node: Node, hiddenBy: number): void {
    if (node.content >= 0)
      this.onRemoved(node.content, { path, size: node.size, contentLayer: node.contentLayer, hiddenBy });
    if (node.children !== undefined) for (const [name, child] of node.children) this.remove(`${path}/${name}`, child, hiddenBy);
  }

  // Removes what layers below `layer` put at or under `node`; true if nothing of `layer` is left.
  private pruneLower(path: string, node: Node, layer: number): boolean {
    if (node.children !== undefined) this.pruneChildren(path, node, layer);
    if (node.layer >= layer || (node.children?.size ?? 0) > 0) return false;
    this.remove(path, node, layer);
    return true;
  }

  private pruneChildren(path: string, node: Node, layer: number): void {
    for (const [name, child] of node.children!)
      if (this.pruneLower(path === '.' ? name : `${path}/${name}`, child, layer)) node.children!.delete(name);
  }
}
