import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidOffsetError, PathExistsError, PathNotFoundError } from '../errors';
import { childPath, isValidComponent } from '../paths';
import type { FileInfo, FileReadable, FileWriter, LeftoverOptions, PutContentOptions, ReaderOptions, RedirectOptions, StorageDriver, WriterOptions } from '../types';
import { readRange } from '../streams';
import { BufferPool } from '../buffer-pool';
import { FileReader } from './fs-reader';
import { FsWriter } from './fs-writer';
import { KnownDirs } from './known-dirs';
import { PendingFlushes } from './pending-flushes';
import { errnoCode, isMissing, succeeds } from './errno';
import { removeTree } from './remove-tree';
import { deleteIfHolds, pruneEmptyDirs } from './conditional-delete';
import { purgeTempFiles } from './leftovers';
import { DirSyncs } from './dir-syncs';
import { linkExclusive, replaceFile, syncDir, type WriteTarget } from './durable-writes';

export interface FilesystemDriverOptions {
  rootDirectory: string;
  /** Bytes per read when streaming a file out; pulls are a hot path, so large reads pay off (default 1 MiB). */
  readChunkSize?: number;
}

/** Idle read buffers kept between pulls (8 MiB at the default chunk size); more are left to the GC. */
const READ_BUFFERS_KEPT = 8;

/** Stores each path as a file below `rootDirectory`, mirroring Distribution's filesystem driver. */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  private readonly root: string;
  private readonly known: KnownDirs;
  private readonly flushes = new PendingFlushes();
  /** Shared by every reader's writeTo(), so that concurrent pulls reuse the same few buffers. */
  private readonly readBuffers: BufferPool;
  private readonly writes: WriteTarget;

  constructor(opts: FilesystemDriverOptions) {
    this.root = opts.rootDirectory.replace(/\/+$/, '') || '/';
    this.known = new KnownDirs(this.root);
    this.readBuffers = new BufferPool(opts.readChunkSize ?? 1 << 20, READ_BUFFERS_KEPT);
    const dirSyncs = new DirSyncs(syncDir);
    this.writes = { root: this.root, known: this.known, makeDir: (dir) => this.makeDir(dir), syncDir: (dir) => dirSyncs.sync(dir) };
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await readFile(this.file(path));
    } catch (err) {
      throw this.mapError(err, path, true);
    }
  }

  async putContent(path: string, data: Uint8Array, opts: PutContentOptions = {}): Promise<void> {
    // A stat costs far less here than the synced write it spares.
    if (opts.ifAbsent && (await this.statFile(path))) throw new PathExistsError(this.name, path);
    return replaceFile(this.writes, this.file(path), data, opts);
  }

  async createExclusive(path: string, data: Uint8Array, opts: PutContentOptions = {}): Promise<void> {
    if (!(await linkExclusive(this.writes, this.file(path), data, opts))) throw new PathExistsError(this.name, path);
  }

  async reader(path: string, opts: ReaderOptions = {}): Promise<FileReadable> {
    opts.signal?.throwIfAborted();
    let handle: FileHandle;
    try {
      handle = await open(this.file(path), 'r');
    } catch (err) {
      throw this.mapError(err, path, true);
    }
    let stream: Readable;
    let fileSize: number;
    try {
      const info = await handle.stat();
      fileSize = info.size;
      if (info.isDirectory()) throw new PathNotFoundError(this.name, path);
      const offset = opts.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > info.size) {
        throw new InvalidOffsetError(this.name, path, offset);
      }
      const end = readRange(info.size, offset, opts.length);
      if (end === offset) {
        await handle.close();
        return Object.assign(new Readable({ signal: opts.signal, read() { this.push(null); } }), { fileSize });
      }
      stream = new FileReader(handle, offset, end, this.readBuffers, opts.signal);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return Object.assign(stream, { fileSize });
  }

  async writer(path: string, opts: WriterOptions): Promise<FileWriter> {
    opts.signal?.throwIfAborted();
    const file = this.file(path);
    const handle = await this.openCreating(file, opts.append ? 'a' : 'w');
    let size = 0;
    try {
      if (opts.append) size = (await handle.stat()).size;
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new FsWriter(file, handle, size, this.flushes, opts.signal);
  }

  async stat(path: string): Promise<FileInfo> {
    try {
      const info = await stat(this.file(path));
      const isDir = info.isDirectory();
      return { path, size: isDir ? 0 : info.size, modTime: info.mtime, isDir };
    } catch (err) {
      if (path === '/' && errnoCode(err) === 'ENOENT') return { path, size: 0, modTime: new Date(), isDir: true };
      throw this.mapError(err, path);
    }
  }

  async statFile(path: string): Promise<FileInfo | null> {
    try {
      const info = await stat(this.file(path));
      return info.isFile() ? { path, size: info.size, modTime: info.mtime, isDir: false } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.mapError(err, path);
    }
  }

  async list(path: string): Promise<string[]> {
    return (await this.children(path)).map((name) => childPath(path, name));
  }

  async *walk(path: string): AsyncIterable<FileInfo> {
    for (const name of await this.children(path)) {
      const full = childPath(path, name);
      let info: FileInfo;
      try {
        info = await this.stat(full);
      } catch (err) {
        if (err instanceof PathNotFoundError) continue; // deleted while we walked
        throw err;
      }
      yield info;
      if (info.isDir) {
        try {
          yield* this.walk(full);
        } catch (err) {
          if (!(err instanceof PathNotFoundError)) throw err;
        }
      }
    }
  }

  async move(src: string, dst: string): Promise<void> {
    const from = this.file(src);
    const to = this.file(dst);
    const dir = dirname(to);
    // A destination directory that is not known while its parent is, is most likely new (a blob
    // committed from an upload): make it first rather than fail a rename. A missing source then
    // leaves that empty directory behind, which no reader takes for content.
    if (this.known.has(dir) || !this.known.has(dirname(dir))) {
      if (await succeeds(rename(from, to), 'ENOENT')) {
        this.known.learn(dir);
        await this.writes.syncDir(dir);
        return;
      }
      this.known.forget(dir);
      // Either src is missing or dst's parent is: check before creating directories for nothing.
      await this.stat(src);
    }
    await this.makeDir(dir);
    try {
      await rename(from, to);
    } catch (err) {
      throw this.mapError(err, src);
    }
    await this.writes.syncDir(dir);
  }

  async delete(path: string): Promise<void> {
    if (path === '/') {
      let names: string[];
      try {
        names = await readdir(this.root);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw err;
      }
      await Promise.all(names.map((name) => rm(`${this.root}/${name}`, { recursive: true, force: true })));
      return;
    }
    const file = this.file(path);
    const knownDir = this.known.has(file);
    this.known.forget(file);
    await this.flushes.forget(file);
    try {
      await removeTree(file, knownDir);
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  deleteIf(path: string, expected: Uint8Array): Promise<boolean> {
    return deleteIfHolds(this.file(path), expected, (dir) => this.writes.syncDir(dir));
  }

  async pruneDirs(path: string): Promise<void> {
    const dir = this.file(path);
    this.known.forget(dir);
    await pruneEmptyDirs(dir);
  }

  async redirectUrl(_path: string, _opts: RedirectOptions): Promise<string | null> {
    return null;
  }

  /** putContent's temp files stranded by a crash between their creation and the rename. */
  purgeLeftovers(olderThan: Date, opts: LeftoverOptions = {}): Promise<FileInfo[]> {
    return purgeTempFiles(this.root, olderThan, opts.dryRun === true, (dir) => this.writes.syncDir(dir));
  }

  private file(path: string): string {
    return path === '/' ? this.root : this.root + path;
  }

  /** Sorted names of the valid entries of a directory; temp and foreign files are skipped. */
  private async children(path: string): Promise<string[]> {
    try {
      const names = await readdir(this.file(path));
      return names.filter(isValidComponent).sort();
    } catch (err) {
      if (path === '/' && errnoCode(err) === 'ENOENT') return [];
      throw this.mapError(err, path);
    }
  }

  /**
   * Opens for writing. The parent directory is made first when it is unknown but its own parent is
   * known (a new tag, blob or session), and otherwise only once an attempt shows it is missing.
   */
  private async openCreating(file: string, flags: string | number): Promise<FileHandle> {
    const dir = dirname(file);
    if (this.known.has(dir) || !this.known.has(dirname(dir))) {
      try {
        const handle = await open(file, flags);
        this.known.learn(dir);
        return handle;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        this.known.forget(dir);
      }
    }
    await this.makeDir(dir);
    return open(file, flags);
  }

  /** mkdir -p, with one mkdir per missing level below the nearest directory known to exist. */
  private async makeDir(dir: string): Promise<void> {
    const missing = this.known.missingBelowKnown(dir);
    if (missing !== null) {
      try {
        for (let i = missing.length - 1; i >= 0; i--) {
          await succeeds(mkdir(missing[i]), 'EEXIST');
        }
        this.known.learn(dir);
        return;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        // The directory believed to exist is gone (deleted here or by another process).
        this.known.forget(dirname(missing[missing.length - 1]));
      }
    }
    await mkdir(dir, { recursive: true });
    this.known.learn(dir);
  }

  private mapError(err: unknown, path: string, isDirNotFound = false): unknown {
    if (isMissing(err) || (isDirNotFound && errnoCode(err) === 'EISDIR')) {
      return new PathNotFoundError(this.name, path);
    }
    return err;
  }
}
