import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { addAbortSignal, Readable } from 'node:stream';
import { InvalidOffsetError, PathExistsError, PathNotFoundError } from '../errors';
import { childPath } from '../paths';
import type { DeleteOptions, FileInfo, FileReadable, FileWriter, LeftoverOptions, PutContentOptions, ReaderOptions, RedirectOptions, StorageDriver, WriterOptions } from '../types';
import { httpStatus, isMissing, type S3Context } from './context';
import { copyObject } from './copy';
import { abortUpload, uploadExists } from './multipart';
import { deleteKeys } from './delete-keys';
import { deleteBelow, hasObjectsBelow, listChildren, uploadsAt } from './listing';
import { S3Writer } from './s3-writer';
import { walkTree } from './walk';
import { purgeOrphanUploads } from './leftovers';
import { dropUploadState, headUploadState, loadUploadState, saveUploadState, type UploadState } from './upload-state';

/**
 * Stores each path as an object (key = rootdirectory + path) in one bucket; directories are key
 * prefixes. Paths are assumed valid (the validation decorator checks them).
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  /** Writers of this process that have not ended: stat reports the bytes they still buffer. */
  private readonly live = new Map<string, S3Writer>();

  constructor(
    private readonly ctx: S3Context,
    /** Signs redirect URLs; its endpoint may be the public one. */
    private readonly presignClient: S3Client,
  ) {}

  async getContent(path: string): Promise<Buffer> {
    try {
      return await this.ctx.getSmall(this.ctx.key(path));
    } catch (err) {
      throw this.notFound(err, path);
    }
  }

  async putContent(path: string, data: Uint8Array, opts: PutContentOptions = {}): Promise<void> {
    if (opts.ifAbsent) {
      try {
        return await this.putIfNoneMatch(path, data);
      } catch (err) {
        // A store without conditional writes (501) still takes pushes: a HEAD, then a plain PUT.
        if (httpStatus(err) !== 501) throw err;
        if (await this.statFile(path)) throw new PathExistsError(this.name, path);
      }
    }
    await this.ctx.putSmall(this.ctx.key(path), data, false);
  }

  createExclusive(path: string, data: Uint8Array): Promise<void> {
    return this.putIfNoneMatch(path, data);
  }

  /**
   * A conditional PutObject (`If-None-Match: *`): 412 when the key exists. 409 means another
   * conditional write to the key is in flight (AWS); the loser then learns the outcome by retrying.
   */
  private async putIfNoneMatch(path: string, data: Uint8Array): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.putSmall(this.ctx.key(path), data, true);
        return;
      } catch (err) {
        const status = httpStatus(err);
        if (status === 412) throw new PathExistsError(this.name, path);
        if (status !== 409 || attempt === 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  async reader(path: string, opts: ReaderOptions = {}): Promise<FileReadable> {
    opts.signal?.throwIfAborted();
    const offset = opts.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidOffsetError(this.name, path, offset);
    const length = opts.length;
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new RangeError(`invalid length ${length}`);
    if (length === 0) return this.emptyAt(path, offset);
    const range = offset === 0 && length === undefined ? undefined : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
    try {
      const got = await this.ctx.getObject(this.ctx.key(path), range, opts.signal);
      // A ranged answer gives the whole size after the slash of Content-Range: `bytes 0-9/5000`.
      const fileSize = range === undefined ? got.ContentLength : Number(/\/(\d+)$/.exec(got.ContentRange ?? '')?.[1] ?? NaN);
      return Object.assign(got.Body, { fileSize: Number.isSafeInteger(fileSize) ? fileSize : undefined });
    } catch (err) {
      // S3 answers 416 for a range that starts at the end; the contract wants an empty stream there.
      if (httpStatus(err) === 416) return this.emptyAt(path, offset);
      throw this.notFound(err, path);
    }
  }

  async writer(path: string, opts: WriterOptions): Promise<FileWriter> {
    opts.signal?.throwIfAborted();
    let state: UploadState | undefined;
    let committed = 0;
    if (opts.append) {
      const [loaded, size] = await Promise.all([loadUploadState(this.ctx, path, opts.signal), this.committedSize(path)]);
      state = loaded;
      // A commit completes the multipart upload before it deletes the upload object: both remain
      // when it dies in between, and the content is the committed object.
      if (state?.uploadId !== undefined && size !== undefined && !(await uploadExists(this.ctx, this.ctx.key(path), state.uploadId))) {
        await dropUploadState(this.ctx, path);
        state = undefined;
      }
      // Without an upload object, an append writer continues what is committed at the path, if anything.
      if (state === undefined) committed = size ?? 0;
    } else {
      const old = await headUploadState(this.ctx, path);
      if (old?.uploadId !== undefined) await abortUpload(this.ctx, this.ctx.key(path), old.uploadId);
    }
    if (state === undefined) {
      state = { parts: 0, partBytes: 0, tail: Buffer.alloc(0), chain: '' };
      // Stored at once so that stat and list in any process see the upload from its start (the
      // committed object already shows it).
      if (committed === 0) state.version = await saveUploadState(this.ctx, path, state, opts.signal);
    }
    const writer = new S3Writer(this.ctx, path, state, opts.signal, committed);
    if (opts.signal) addAbortSignal(opts.signal, writer);
    this.live.set(path, writer);
    writer.once('close', () => {
      if (this.live.get(path) === writer) this.live.delete(path);
    });
    return writer;
  }

  /** Committed content first; then a writer of this process; then what an upload object records. */
  async stat(path: string): Promise<FileInfo> {
    if (path === '/') return { path, size: 0, modTime: new Date(0), isDir: true };
    const committed = await this.statFile(path);
    if (committed) return committed;
    const writer = this.live.get(path);
    if (writer && !writer.writableFinished && !writer.destroyed) {
      return { path, size: writer.size, modTime: new Date(), isDir: false };
    }
    const [upload, isDir] = await Promise.all([
      headUploadState(this.ctx, path),
      hasObjectsBelow(this.ctx, this.ctx.dirPrefix(path)),
    ]);
    if (upload) return { path, size: upload.size, modTime: upload.modTime, isDir: false };
    if (isDir) return { path, size: 0, modTime: new Date(0), isDir: true };
    throw new PathNotFoundError(this.name, path);
  }

  /** One HEAD: the committed object, if any (an upload object is under another key). */
  async statFile(path: string): Promise<FileInfo | null> {
    try {
      const head = await this.ctx.headObject(this.ctx.key(path));
      return { path, size: head.ContentLength ?? 0, modTime: head.LastModified ?? new Date(), isDir: false };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async list(path: string): Promise<string[]> {
    const entries = await this.children(path);
    return entries.map((e) => childPath(path, e.name));
  }

  walk(path: string): AsyncIterable<FileInfo> {
    return walkTree(this.ctx, path, (p) => this.stat(p));
  }

  async move(src: string, dst: string): Promise<void> {
    const size = await this.committedSize(src);
    if (size === undefined) throw new PathNotFoundError(this.name, src);
    if (src === dst) return;
    await copyObject(this.ctx, this.ctx.key(src), this.ctx.key(dst), size);
    await this.ctx.send(new DeleteObjectCommand({ Bucket: this.ctx.bucket, Key: this.ctx.key(src) }));
  }

  /** The object at the path, its upload object and multipart uploads, and everything below `path/`. */
  async delete(path: string, opts: DeleteOptions = {}): Promise<void> {
    const prefix = this.ctx.dirPrefix(path);
    const key = path === '/' ? prefix : this.ctx.key(path);
    // Two requests of a committed upload's four (a docker layer push is about 25).
    const uploads = opts.settled ? [] : await uploadsAt(this.ctx, key);
    await Promise.all(uploads.map((u) => abortUpload(this.ctx, u.key, u.uploadId)));
    let found = uploads.length > 0;
    // Something below makes the path a directory: its own key and upload object (a file of the same
    // name, which S3 allows) go with the first batch without looking, as DeleteObjects passes over
    // absent keys. Otherwise they are looked for, to tell a file from nothing.
    const exactKeys = path === '/' ? [] : [key, this.ctx.uploadKey(path)];
    const below = await deleteBelow(this.ctx, prefix, exactKeys, !opts.settled);
    if (below === 0 && path !== '/') {
      const exact = await Promise.all(
        exactKeys.map((k) =>
          this.ctx.headObject(k).then(
            () => k,
            (err: unknown) => {
              if (isMissing(err)) return undefined;
              throw err;
            },
          ),
        ),
      );
      const present = exact.filter((k): k is string => k !== undefined);
      if (present.length > 0) await deleteKeys(this.ctx, present);
      found ||= present.length > 0;
    }
    if (!found && below === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
  }

  /**
   * A GET, then a DeleteObject with `If-Match` on the ETag read: a PUT landing in between changes the
   * ETag and the delete is refused (412) where the store honours the condition. RGW 16 deletes
   * regardless, so there a PUT between the two requests is lost (docs/architecture.md).
   */
  async deleteIf(path: string, expected: Uint8Array): Promise<boolean> {
    const Key = this.ctx.key(path);
    let etag: string | undefined;
    try {
      const got = await this.ctx.send(new GetObjectCommand({ Bucket: this.ctx.bucket, Key }));
      const body = Buffer.from(await got.Body!.transformToByteArray());
      if (!body.equals(expected)) return false;
      etag = got.ETag;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    try {
      await this.ctx.send(new DeleteObjectCommand({ Bucket: this.ctx.bucket, Key, IfMatch: etag }));
      return true;
    } catch (err) {
      const status = httpStatus(err);
      if (status === 412 || isMissing(err)) return false;
      // A store that refuses the condition outright: as one that ignores it.
      if (status !== 501) throw err;
    }
    await this.ctx.send(new DeleteObjectCommand({ Bucket: this.ctx.bucket, Key }));
    return true;
  }

  /** Directories are key prefixes: one with nothing below it does not exist. */
  async pruneDirs(): Promise<void> {}

  async redirectUrl(path: string, opts: RedirectOptions): Promise<string | null> {
    if (!this.ctx.options.redirect) return null;
    const input = { Bucket: this.ctx.bucket, Key: this.ctx.key(path) };
    const command = opts.method === 'HEAD' ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    return getSignedUrl(this.presignClient, command, { expiresIn: opts.expiresIn });
  }

  /** Multipart uploads that no writer will complete or abort (see purgeOrphanUploads). */
  purgeLeftovers(olderThan: Date, opts: LeftoverOptions = {}): Promise<FileInfo[]> {
    return purgeOrphanUploads(this.ctx, olderThan, opts.dryRun === true);
  }

  private async children(path: string) {
    const entries = await listChildren(this.ctx, this.ctx.dirPrefix(path));
    if (entries.length === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
    return entries;
  }

  /** Size of the committed object at the path; undefined when there is none. */
  private async committedSize(path: string): Promise<number | undefined> {
    return (await this.statFile(path))?.size;
  }

  /** An empty stream when `offset` is exactly the end of the object. */
  private async emptyAt(path: string, offset: number): Promise<FileReadable> {
    const size = await this.committedSize(path);
    if (size === undefined) throw new PathNotFoundError(this.name, path);
    if (offset > size) throw new InvalidOffsetError(this.name, path, offset);
    return Object.assign(Readable.from([]), { fileSize: size });
  }

  private notFound(err: unknown, path: string): unknown {
    return isMissing(err) ? new PathNotFoundError(this.name, path) : err;
  }
}
