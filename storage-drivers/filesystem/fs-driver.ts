import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { InvalidOffsetError, PathNotFoundError } from '../errors';
import { childPath, isValidComponent } from '../paths';
import type { FileInfo, FileWriter, ReaderOptions, RedirectOptions, StorageDriver, WriterOptions } from '../types';
import { readRange } from '../streams';
import { FsWriter } from './fs-writer';

export interface FilesystemDriverOptions {
  rootDirectory: string;
  /** Bytes per read when streaming a file out; pulls are a hot path, so large reads pay off. */
  readChunkSize?: number;
}

/**
 * `~` cannot appear in a valid path component, so a temp file (even one left by a crash) can never
 * collide with or be listed as real content.
 */
const TEMP_PREFIX = '~tmp-';

const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR']);

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Stores each path as a file below `rootDirectory`, mirroring Distribution's filesystem driver. */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  private readonly root: string;
  private readonly readChunkSize: number;

  constructor(opts: FilesystemDriverOptions) {
    this.root = opts.rootDirectory.replace(/\/+$/, '') || '/';
    this.readChunkSize = opts.readChunkSize ?? 1 << 20;
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await readFile(this.file(path));
    } catch (err) {
      throw this.mapError(err, path, true);
    }
  }

  async putContent(path: string, data: Uint8Array): Promise<void> {
    const file = this.file(path);
    const temp = `${dirname(file)}/${TEMP_PREFIX}${randomBytes(12).toString('hex')}`;
    const handle = await this.openCreating(temp, 'wx');
    try {
      try {
        await handle.writeFile(data);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async reader(path: string, opts: ReaderOptions = {}): Promise<Readable> {
    opts.signal?.throwIfAborted();
    let handle: FileHandle;
    try {
      handle = await open(this.file(path), 'r');
    } catch (err) {
      throw this.mapError(err, path, true);
    }
    let stream: Readable;
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new PathNotFoundError(this.name, path);
      const offset = opts.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > info.size) {
        throw new InvalidOffsetError(this.name, path, offset);
      }
      const end = opts.length === undefined ? undefined : readRange(info.size, offset, opts.length);
      if (end === offset || offset === info.size) {
        await handle.close();
        return new Readable({ signal: opts.signal, read() { this.push(null); } });
      }
      stream = handle.createReadStream({
        start: offset,
        end: end === undefined ? undefined : end - 1,
        highWaterMark: this.readChunkSize,
      });
    } catch (err) {
      await handle.close();
      throw err;
    }
    return opts.signal ? addAbortSignal(opts.signal, stream) : stream;
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
    return new FsWriter(file, handle, size, opts.signal);
  }

  async stat(path: string): Promise<FileInfo> {
    try {
      const info = await stat(this.file(path));
      const isDir = info.isDirectory();
      return { path, size: isDir ? 0 : info.size, modTime: info.mtime, isDir };
    } catch (err) {
      if (path === '/' && code(err) === 'ENOENT') return { path, size: 0, modTime: new Date(), isDir: true };
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
    try {
      await rename(from, to);
      return;
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
    }
    // Either src is missing or dst's parent is: check before creating directories for nothing.
    await this.stat(src);
    await mkdir(dirname(to), { recursive: true });
    try {
      await rename(from, to);
    } catch (err) {
      throw this.mapError(err, src);
    }
  }

  async delete(path: string): Promise<void> {
    if (path === '/') {
      let names: string[];
      try {
        names = await readdir(this.root);
      } catch (err) {
        if (code(err) === 'ENOENT') return;
        throw err;
      }
      await Promise.all(names.map((name) => rm(`${this.root}/${name}`, { recursive: true, force: true })));
      return;
    }
    await this.stat(path);
    await rm(this.file(path), { recursive: true, force: true });
  }

  async redirectUrl(_path: string, _opts: RedirectOptions): Promise<string | null> {
    return null;
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
      if (path === '/' && code(err) === 'ENOENT') return [];
      throw this.mapError(err, path);
    }
  }

  /** Opens for writing; creates parent directories only when the first attempt shows they are missing. */
  private async openCreating(file: string, flags: string): Promise<FileHandle> {
    try {
      return await open(file, flags);
    } catch (err) {
      if (code(err) !== 'ENOENT') throw err;
    }
    await mkdir(dirname(file), { recursive: true });
    return open(file, flags);
  }

  private mapError(err: unknown, path: string, isDirNotFound = false): unknown {
    const c = code(err);
    if (c !== undefined && (NOT_FOUND.has(c) || (isDirNotFound && c === 'EISDIR'))) {
      return new PathNotFoundError(this.name, path);
    }
    return err;
  }
}
