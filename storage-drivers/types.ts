import type { Readable, Writable } from 'node:stream';

/**
 * The storage-driver contract (docs/architecture.md, "The storage-driver contract"). Drivers store
 * bytes at paths and know nothing of digests, manifests or HTTP. Paths are absolute, slash-separated,
 * and relative to the driver's own root: `/docker/registry/v2/...`. A valid path matches
 * `^(/[A-Za-z0-9._:-]+)+$` with no `.`/`..` component (see `validatePath`).
 */
export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
  isDir: boolean;
}

export interface ReaderOptions {
  /** First byte to read (default 0). An offset past the end rejects with InvalidOffsetError. */
  offset?: number;
  /** Maximum number of bytes to read (default: to the end). */
  length?: number;
  signal?: AbortSignal;
}

/**
 * An optional capability of the Readable that reader() returns (use `copyTo` in streams.ts rather
 * than testing for it). A consumer that reads a stream may keep any chunk, so a driver must hand out
 * a fresh buffer per chunk; `writeTo` writes the rest of the content into `sink` itself, learns from
 * each write's callback when `sink` is done with a buffer, and can reuse a few buffers instead.
 * - Call it at most once, before anything has read the stream; it holds at most a few chunks in
 *   flight, however large `sink`'s buffer is (the callbacks are its backpressure).
 * - It ends `sink` and resolves once `sink` has finished; it rejects if the reader's signal aborts,
 *   storage fails, or `sink` errors or closes first. Either way the reader is released (destroyed);
 *   `sink` is left as it is on failure, for the caller to destroy.
 */
export interface DirectReadable extends Readable {
  writeTo(sink: Writable): Promise<void>;
}

/**
 * What reader() resolves to. `fileSize` is the whole file's size (not the range's) as the driver
 * found it when it opened the file; every driver here sets it, so that a caller that must announce a
 * length before the body (a blob GET) need not stat first. Wrappers may drop it: callers then stat.
 */
export interface FileReadable extends Readable {
  fileSize?: number;
}

export interface WriterOptions {
  /**
   * false: start a new, empty file; after commit it replaces whatever was at the path. Whether the
   * old content stays readable until then is driver-specific (memory: yes; filesystem: no, the file
   * is truncated at once, as in Distribution), so write new content at a fresh path and move() it.
   * true: continue the content left at the path by an earlier writer that ended without commit, or
   * else the committed content there (or start empty if there is none); `size` then starts at that
   * length. Committing without adding bytes leaves committed content as it was: that is how a
   * caller retries an operation that died after the commit, before it used the content.
   */
  append: boolean;
  signal?: AbortSignal;
}

/**
 * A writer is a Writable: pipe into it with stream/promises.pipeline to get backpressure.
 * - Ending it (end()/finish) without commit keeps what was written so that a later
 *   writer(path, {append: true}) — possibly in another process sharing the store — continues it.
 * - commit() flushes durably (fsync or equivalent) and makes the content readable at the path.
 *   Call it after the stream has finished; it must not be called twice.
 * - cancel() discards everything written at the path by this and earlier uncommitted writers.
 * Before commit, stat(path) reports the bytes written so far; whether reader(path) can read them
 * is driver-specific and callers must not rely on it.
 */
export interface FileWriter extends Writable {
  readonly size: number;
  /**
   * Which stored version of the content this writer continues (once ended: which it stored), for a
   * driver whose concurrent writers can replace each other's bytes without changing the size (S3's
   * multipart parts). A hash of the content holds only for that version. Undefined: the size tells.
   */
  readonly version?: string;
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

export interface DeleteOptions {
  /**
   * The caller knows that nothing writes below the path any more (an upload session its commit
   * ended): a driver may skip what it does against racing writers (S3: the listing again until
   * empty, and the look for multipart uploads to abort; an orphan a racer still left is the upload
   * purge's, see purgeLeftovers). Ignoring it is always correct.
   */
  settled?: boolean;
}

export interface PutContentOptions {
  /**
   * false: the content may be lost (or read back empty) after a crash, for state that is harmless
   * to lose, such as an upload session's start marker; a driver may then skip its flush. Default true.
   */
  durable?: boolean;
  /**
   * Content only Berth itself may read (a private key): the filesystem driver creates the file with
   * mode 0600; drivers whose store has no per-object permissions (S3: the bucket's policy decides,
   * memory) ignore it.
   */
  private?: boolean;
  /**
   * Write only where no committed file is at the path; otherwise reject with PathExistsError and
   * leave it as it is. Not exclusive (createExclusive is): callers racing for one path may all
   * write, so it is for content that is the same whoever writes it. It tells a caller whether the
   * file was there in the same request as the write (S3: a conditional PutObject), not a stat first.
   */
  ifAbsent?: boolean;
}

export interface LeftoverOptions {
  /** Report what would be removed without removing it. */
  dryRun?: boolean;
}

export interface RedirectOptions {
  method: 'GET' | 'HEAD';
  /** Seconds. */
  expiresIn: number;
}

export interface StorageDriver {
  readonly name: string;
  /** Small objects only (links, manifests, state). PathNotFoundError when absent. */
  getContent(path: string): Promise<Buffer>;
  /**
   * Atomic replace: readers see the old or the new content, never a mix. Durable unless opts say
   * otherwise: once it resolves, a crash finds the new content at the path (the name as well as the bytes).
   */
  putContent(path: string, data: Uint8Array, opts?: PutContentOptions): Promise<void>;
  /**
   * Creates a small object only if nothing is at the path yet, atomically: of any number of callers
   * racing for one path, in this or other processes sharing the store, exactly one succeeds and the
   * others reject with PathExistsError, as does any call once the path holds content. Readers never
   * see partial content. Durable once it resolves, unless opts say otherwise (as for putContent:
   * then only the process, not the machine, may crash). The primitive for leases (a lock whose
   * holder may die): put nothing at the path that another writer might replace with putContent.
   */
  createExclusive(path: string, data: Uint8Array, opts?: PutContentOptions): Promise<void>;
  reader(path: string, opts?: ReaderOptions): Promise<FileReadable>;
  writer(path: string, opts: WriterOptions): Promise<FileWriter>;
  /** PathNotFoundError when absent. Directories exist implicitly when something lies below them. */
  stat(path: string): Promise<FileInfo>;
  /**
   * The committed file at path, or null when there is none: absent, a directory, or only an
   * uncommitted writer's bytes (except where the driver writes in place, the filesystem, which
   * cannot tell those from content). For callers that want a file (a link, blob data, a state
   * file): unlike stat it need not look for directories or uploads, which costs S3 one request
   * (a HEAD) instead of three for an absent key.
   */
  statFile(path: string): Promise<FileInfo | null>;
  /** Full paths of the direct children, sorted lexically. PathNotFoundError when absent. */
  list(path: string): Promise<string[]>;
  /** Every file and directory below path, depth-first, lexical order, directories before their contents. */
  walk(path: string): AsyncIterable<FileInfo>;
  /**
   * Atomic where the backend allows; replaces dst if it exists. Durable once it resolves: a crash
   * after that finds the content at dst. PathNotFoundError when src is absent.
   */
  move(src: string, dst: string): Promise<void>;
  /**
   * Recursive; never touches siblings sharing a prefix (`/a/b` spares `/a/bc`). PathNotFoundError when
   * absent. What is written below the path while it runs is removed too, up to the moment the path
   * is gone (re-listed until empty), so that a racing writer never leaves part of what it wrote.
   */
  delete(path: string, opts?: DeleteOptions): Promise<void>;
  /**
   * Removes the committed file at `path` only if it holds exactly `expected`, and says whether it
   * did: false, leaving everything as it is, when the file is absent, a directory, or holds anything
   * else. A write of other content to the path that lands before the removal wins: the file then
   * stays with that content, so a caller that read a link and wants it gone only if it was not
   * replaced meanwhile loses no newer write. Atomic against writers in this and other processes on
   * the filesystem and in memory; S3 reads the object and deletes it with `If-Match` on its ETag,
   * which a store that ignores the condition on deletes (RGW 16) leaves a window between the two
   * requests (docs/architecture.md, "Deletes racing pushes"). Empty directories it leaves are the
   * caller's (pruneDirs).
   */
  deleteIf(path: string, expected: Uint8Array): Promise<boolean>;
  /**
   * Removes the directory at `path` and the directories below it that hold no file, leaving every
   * file and the directories on the way to it; nothing when `path` is absent or a file. A writer
   * that puts a file below meanwhile keeps it (and its directories). For drivers whose directories
   * exist only through what lies below them (S3, memory) there is nothing to remove.
   */
  pruneDirs(path: string): Promise<void>;
  /** A URL the client may fetch the content from directly, or null when the driver has none. */
  redirectUrl(path: string, opts: RedirectOptions): Promise<string | null>;
  /**
   * Finds, and unless `dryRun` removes, the driver's own leftovers last touched before `olderThan`:
   * storage it creates only on the way to content (filesystem: `~tmp-` files of putContent; S3:
   * multipart uploads that no uncommitted writer records) and that a process killed mid-write
   * strands where no path, list or walk shows it. The filesystem's one exception is a file a
   * killed deleteIf had renamed aside: content, so it goes back to its name (unless a newer file
   * is there) rather than away. Nothing else is touched: content, uncommitted
   * writers' bytes (those belong to their callers, e.g. upload purging) and anything not written by
   * the driver stay. Leftovers younger than `olderThan` are skipped, since they may belong to a write
   * in progress in this or another process: pass a cutoff well before now. Returns what was found
   * (and removed); each `path` names the leftover for reports only and is usually not a valid path.
   * Drivers that strand nothing (memory) return an empty list.
   */
  purgeLeftovers(olderThan: Date, opts?: LeftoverOptions): Promise<FileInfo[]>;
}
