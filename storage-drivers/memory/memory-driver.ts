import { InvalidOffsetError, PathExistsError, PathNotFoundError } from '../errors';
import { childPath, splitPath } from '../paths';
import type { FileInfo, FileReadable, FileWriter, PutContentOptions, ReaderOptions, RedirectOptions, StorageDriver, WriterOptions } from '../types';
import { readRange } from '../streams';
import { ChunkList } from './chunk-list';
import { MemoryWriter } from './memory-writer';
import { type FileNode, type Node, Tree } from './tree';

/**
 * Keeps everything in process memory: for tests and single-process experiments. Paths are assumed
 * valid (the validation decorator checks them).
 */
export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  private readonly tree = new Tree();

  async getContent(path: string): Promise<Buffer> {
    return this.readable(path).toBuffer();
  }

  async putContent(path: string, data: Uint8Array, opts: PutContentOptions = {}): Promise<void> {
    if (opts.ifAbsent && (await this.statFile(path))) throw new PathExistsError(this.name, path);
    const node: FileNode = { kind: 'file', committed: ChunkList.of(data), pending: null, modTime: new Date() };
    this.tree.set(splitPath(path), node);
  }

  async createExclusive(path: string, data: Uint8Array): Promise<void> {
    // One event-loop turn from lookup to set: nothing can come in between.
    if (this.tree.lookup(splitPath(path)) !== undefined) throw new PathExistsError(this.name, path);
    await this.putContent(path, data);
  }

  async reader(path: string, opts: ReaderOptions = {}): Promise<FileReadable> {
    opts.signal?.throwIfAborted();
    const data = this.readable(path);
    const offset = opts.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > data.size) {
      throw new InvalidOffsetError(this.name, path, offset);
    }
    return Object.assign(data.reader(offset, readRange(data.size, offset, opts.length), opts.signal), { fileSize: data.size });
  }

  async writer(path: string, opts: WriterOptions): Promise<FileWriter> {
    opts.signal?.throwIfAborted();
    const parts = splitPath(path);
    let node = this.tree.lookup(parts);
    if (node?.kind === 'dir') throw new Error(`${this.name}: cannot write over a directory: ${path}`);
    if (node === undefined) {
      node = { kind: 'file', committed: null, pending: null, modTime: new Date() };
      this.tree.set(parts, node);
    }
    let data: ChunkList;
    if (opts.append && node.pending !== null) data = node.pending;
    else if (opts.append && node.committed !== null) data = node.committed.fork();
    else data = new ChunkList();
    node.pending = data;
    return new MemoryWriter(this.tree, parts, node, data, opts.signal);
  }

  async stat(path: string): Promise<FileInfo> {
    return info(path, this.find(path));
  }

  async statFile(path: string): Promise<FileInfo | null> {
    const node = this.tree.lookup(splitPath(path));
    if (node?.kind !== 'file' || node.committed === null) return null;
    return { path, size: node.committed.size, modTime: node.modTime, isDir: false };
  }

  async list(path: string): Promise<string[]> {
    const node = this.find(path);
    if (node.kind !== 'dir') throw new PathNotFoundError(this.name, path);
    return [...node.children.keys()].sort().map((name) => childPath(path, name));
  }

  async *walk(path: string): AsyncIterable<FileInfo> {
    const node = this.find(path);
    if (node.kind !== 'dir') throw new PathNotFoundError(this.name, path);
    yield* walkDir(path, node);
  }

  async move(src: string, dst: string): Promise<void> {
    const from = splitPath(src);
    const node = this.tree.lookup(from);
    if (node === undefined || from.length === 0) throw new PathNotFoundError(this.name, src);
    if (src === dst) return;
    if (dst.startsWith(`${src}/`)) throw new Error(`${this.name}: cannot move ${src} into itself: ${dst}`);
    const to = splitPath(dst);
    this.tree.checkParents(to);
    this.tree.remove(from, node);
    this.tree.set(to, node);
  }

  async delete(path: string): Promise<void> {
    const parts = splitPath(path);
    if (parts.length === 0) {
      this.tree.root.children.clear();
      return;
    }
    if (!this.tree.remove(parts)) throw new PathNotFoundError(this.name, path);
  }

  async deleteIf(path: string, expected: Uint8Array): Promise<boolean> {
    const parts = splitPath(path);
    const node = this.tree.lookup(parts);
    if (node?.kind !== 'file' || node.committed === null || node.committed.size !== expected.length) return false;
    if (!node.committed.toBuffer().equals(expected)) return false;
    return this.tree.remove(parts, node);
  }

  /** A directory here lasts only while something lies below it (Tree.remove drops emptied ones). */
  async pruneDirs(): Promise<void> {}

  async redirectUrl(_path: string, _opts: RedirectOptions): Promise<string | null> {
    return null;
  }

  /** Every write lands in the tree at once: there is never a leftover. */
  async purgeLeftovers(): Promise<FileInfo[]> {
    return [];
  }

  private find(path: string): Node {
    const node = this.tree.lookup(splitPath(path));
    if (node === undefined) throw new PathNotFoundError(this.name, path);
    return node;
  }

  private readable(path: string): ChunkList {
    const node = this.find(path);
    if (node.kind !== 'file' || node.committed === null) throw new PathNotFoundError(this.name, path);
    return node.committed;
  }
}

function info(path: string, node: Node): FileInfo {
  if (node.kind === 'dir') return { path, size: 0, modTime: node.modTime, isDir: true };
  const size = (node.pending ?? node.committed)?.size ?? 0;
  return { path, size, modTime: node.modTime, isDir: false };
}

function* walkDir(path: string, dir: Node & { kind: 'dir' }): Generator<FileInfo> {
  for (const name of [...dir.children.keys()].sort()) {
    const child = dir.children.get(name);
    if (child === undefined) continue;
    const full = childPath(path, name);
    yield info(full, child);
    if (child.kind === 'dir') yield* walkDir(full, child);
  }
}
