import type { ChunkList } from './chunk-list';

export interface FileNode {
  kind: 'file';
  /** What readers see; null until a writer commits. */
  committed: ChunkList | null;
  /** Bytes of writers that have not committed yet (what stat and an append writer see). */
  pending: ChunkList | null;
  modTime: Date;
}

export interface DirNode {
  kind: 'dir';
  children: Map<string, Node>;
  modTime: Date;
}

export type Node = FileNode | DirNode;

export class NotADirectoryError extends Error {}

/** Directories exist only while something lies below them, as in an object store. */
export class Tree {
  readonly root: DirNode = { kind: 'dir', children: new Map(), modTime: new Date() };

  lookup(parts: string[]): Node | undefined {
    let node: Node = this.root;
    for (const part of parts) {
      if (node.kind !== 'dir') return undefined;
      const next: Node | undefined = node.children.get(part);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  /** Throws NotADirectoryError if a file stands where one of the parent directories of `parts` would go. */
  checkParents(parts: string[]): void {
    let node: Node | undefined = this.root;
    for (const part of parts.slice(0, -1)) {
      if (node === undefined) return;
      if (node.kind !== 'dir') throw new NotADirectoryError(part);
      node = node.children.get(part);
    }
    if (node !== undefined && node.kind !== 'dir') throw new NotADirectoryError(parts.join('/'));
  }

  /** Places `node` at `parts`, creating parent directories and replacing whatever was there. */
  set(parts: string[], node: Node): void {
    this.checkParents(parts);
    const now = new Date();
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      let next = dir.children.get(part);
      if (next === undefined) {
        next = { kind: 'dir', children: new Map(), modTime: now };
        dir.children.set(part, next);
        dir.modTime = now;
      }
      dir = next as DirNode;
    }
    dir.children.set(parts[parts.length - 1], node);
    dir.modTime = now;
  }

  /** Removes the node at `parts` (only if it is `expected`, when given), then drops emptied parents. */
  remove(parts: string[], expected?: Node): boolean {
    const chain: DirNode[] = [this.root];
    for (const part of parts.slice(0, -1)) {
      const next = chain[chain.length - 1].children.get(part);
      if (next === undefined || next.kind !== 'dir') return false;
      chain.push(next);
    }
    const name = parts[parts.length - 1];
    const parent = chain[chain.length - 1];
    const found = parent.children.get(name);
    if (found === undefined || (expected !== undefined && found !== expected)) return false;
    parent.children.delete(name);
    this.prune(chain, parts);
    return true;
  }

  private prune(chain: DirNode[], parts: string[]): void {
    const now = new Date();
    for (let i = chain.length - 1; i > 0; i--) {
      chain[i].modTime = now;
      if (chain[i].children.size > 0) return;
      chain[i - 1].children.delete(parts[i - 1]);
    }
    this.root.modTime = now;
  }
}
