import type { EntryType } from '../layer-entry';
import { pathComponents } from '../entry-path';

/** A node of a tree being built (a layer's, or the merged filesystem's LayerTree): what freezing reads. */
export interface BuildNode {
  type: EntryType;
  /** Content bytes of a regular file (other types are not counted in directory totals). */
  size: number;
  /** The layer that put it there (the merged filesystem), or the layer itself. */
  layer: number;
  mode?: number;
  uid?: number;
  gid?: number;
  linkTarget?: string;
  /** A directory with an opaque marker in this layer: what lower layers put in it is hidden. */
  opaque?: boolean;
  children?: Map<string, BuildNode>;
}

const TYPES: EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'whiteout', 'opaque'];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));
const DIR = TYPE_CODE.get('dir')!;
const FILE = TYPE_CODE.get('file')!;
const NO_MODE = 0xffffffff;

/** One child of a directory, as a listing answers it. */
export interface DirChild {
  name: string;
  path: string;
  type: EntryType;
  /** A file's bytes; a directory's: the bytes of every regular file below it. */
  size: number;
  /** A directory's: how many entries are below it (at any depth). */
  entries?: number;
  /** The directory's own children. */
  children?: number;
  layer: number;
  mode?: number;
  uid?: number;
  gid?: number;
  linkTarget?: string;
  opaque?: true;
  /** A layer's listing: the final filesystem does not have it as this layer put it (deleted or replaced later). */
  hidden?: true;
}

export interface DirPage {
  children: DirChild[];
  /** The name to pass as `last` for the next page; absent on the last page. */
  next?: string;
}

/**
 * A tree of paths frozen into flat arrays, a directory's children contiguous and sorted by name
 * (UTF-16 code units): one lookup per path component (a binary search), a page is a slice. About
 * 60 bytes a node plus its name, instead of the objects and Maps a tree is built with.
 */
export class DirIndex {
  private constructor(
    private readonly names: string[],
    private readonly types: Uint8Array,
    private readonly sizes: Float64Array,
    private readonly counts: Uint32Array,
    private readonly first: Uint32Array,
    private readonly childCount: Uint32Array,
    private readonly layers: Int32Array,
    private readonly modes: Uint32Array | undefined,
    private readonly owners: Uint32Array | undefined,
    private readonly extras: Map<number, { linkTarget?: string; opaque?: true }>,
  ) {}

  /** Numbers the tree breadth first (children after their parent, sorted), then sums sizes upwards. */
  static freeze(root: BuildNode, withModes: boolean): DirIndex {
    const nodes: BuildNode[] = [root];
    const names: string[] = ['.'];
    const parents: number[] = [-1];
    const firsts: number[] = [];
    const counts: number[] = [];
    for (let id = 0; id < nodes.length; id++) {
      const kids = nodes[id].children;
      firsts.push(nodes.length);
      counts.push(kids?.size ?? 0);
      if (kids === undefined) continue;
      for (const name of [...kids.keys()].sort()) {
        nodes.push(kids.get(name)!);
        names.push(name);
        parents.push(id);
      }
    }
    const n = nodes.length;
    const types = new Uint8Array(n);
    const sizes = new Float64Array(n);
    const below = new Uint32Array(n);
    const layers = new Int32Array(n);
    const modes = withModes ? new Uint32Array(n) : undefined;
    const owners = withModes ? new Uint32Array(2 * n) : undefined;
    const extras = new Map<number, { linkTarget?: string; opaque?: true }>();
    for (let id = 0; id < n; id++) {
      const node = nodes[id];
      types[id] = TYPE_CODE.get(node.type) ?? DIR;
      if (types[id] === FILE) sizes[id] = node.size;
      layers[id] = node.layer;
      if (modes && owners) {
        modes[id] = node.mode ?? NO_MODE;
        owners[2 * id] = node.uid ?? 0;
        owners[2 * id + 1] = node.gid ?? 0;
      }
      if (node.linkTarget !== undefined) extras.set(id, { linkTarget: node.linkTarget });
      if (node.opaque) extras.set(id, { ...extras.get(id), opaque: true });
    }
    for (let id = n - 1; id > 0; id--) {
      sizes[parents[id]] += sizes[id];
      below[parents[id]] += below[id] + 1;
    }
    return new DirIndex(names, types, sizes, below, Uint32Array.from(firsts), Uint32Array.from(counts), layers, modes, owners, extras);
  }

  /** How many paths it holds (the root included): what a cache weighs it by. */
  get nodes(): number {
    return this.names.length;
  }

  /** The node of a normalised path (`.` is the root), or undefined. */
  find(path: string): number | undefined {
    let id = 0;
    for (const part of pathComponents(path)) {
      const child = this.child(id, part);
      if (child === undefined) return undefined;
      id = child;
    }
    return id;
  }

  isDir(id: number): boolean {
    return this.types[id] === DIR;
  }

  /** A directory an opaque marker of this layer hides lower layers' contents of. */
  isOpaque(id: number): boolean {
    return this.extras.get(id)?.opaque === true;
  }

  type(id: number): EntryType {
    return TYPES[this.types[id]];
  }

  layer(id: number): number {
    return this.layers[id];
  }

  /** Up to `n` children of directory `id` whose names sort after `last`, and the cursor of the rest. */
  page(id: number, dirPath: string, n: number, last?: string): DirPage {
    const start = this.first[id];
    const end = start + this.childCount[id];
    let from = last === undefined ? start : this.upperBound(start, end, last);
    const children: DirChild[] = [];
    for (; from < end && children.length < n; from++) children.push(this.describe(from, dirPath === '.' ? this.names[from] : `${dirPath}/${this.names[from]}`));
    return from < end && children.length > 0 ? { children, next: children[children.length - 1].name } : { children };
  }

  /** How many children directory `id` has. */
  size(id: number): number {
    return this.childCount[id];
  }

  describe(id: number, path: string): DirChild {
    const child: DirChild = { name: this.names[id], path, type: TYPES[this.types[id]], size: this.sizes[id], layer: this.layers[id] };
    if (this.types[id] === DIR) Object.assign(child, { entries: this.counts[id], children: this.childCount[id] });
    if (this.modes && this.owners && this.modes[id] !== NO_MODE) Object.assign(child, { mode: this.modes[id], uid: this.owners[2 * id], gid: this.owners[2 * id + 1] });
    const extra = this.extras.get(id);
    if (extra !== undefined) Object.assign(child, extra);
    return child;
  }

  private child(id: number, name: string): number | undefined {
    const start = this.first[id];
    const end = start + this.childCount[id];
    const at = this.upperBound(start, end, name) - 1;
    return at >= start && this.names[at] === name ? at : undefined;
  }

  // The first position in [start, end) whose name sorts after `name`.
  private upperBound(start: number, end: number, name: string): number {
    let lo = start;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.names[mid] <= name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
