import { randomUUID, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { LRUCache } from 'lru-cache';
import type { StorageDriver } from '../../storage-drivers/types';
import { ConcurrentUploadError, isNotFound } from '../../storage-drivers/errors';
import { DomainError, isDomainError } from './errors';
import { createDigester, hashStream, parseDigest, type Algorithm, type Digest } from './digest';
import { paths, REPOSITORIES } from './paths';
import { deleteIfExists, fileSize, sizeOf } from './links';
import type { BlobStore } from './blobs';
import { UploadStateSigner } from './upload-state';
import type { HashStateStore } from './hash-state';
import type { RemoteSha256, Sha256Worker } from './remote-sha256';
import type { SessionExclusion, SessionHold } from './session-exclusion';

export interface UploadSession {
  name: string;
  uuid: string;
  /** Bytes received so far. */
  offset: number;
  startedAt: string;
  /** Declared by the client at the start (`digest-algorithm=`): hashed as the bytes arrive. */
  algorithm?: Algorithm;
}

export interface ChunkInput {
  body: Readable;
  /** Content-Range of a ranged PATCH (inclusive end). */
  range?: { start: number; end: number };
  /** Content-Length, when the client sent one. */
  contentLength?: number;
  signal?: AbortSignal;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_HASH_STATES = 10_000;
/** A session idle for longer re-reads its data at the commit instead (as after a restart). */
const HASH_STATE_TTL_MS = 3_600_000;

/**
 * Running digests of the upload's bytes: sha256 always, and the algorithm the client uses. The
 * sha256 is node:crypto's in `hashes`, or the resumable one in `resumable`, whose state is saved.
 */
interface Running {
  hashes: Partial<Record<Algorithm, Hash>>;
  resumable?: RemoteSha256;
}

/**
 * What this process keeps between a session's requests. A resumable sha256 is kept as its saved
 * state: the worker need not hold a hash for every idle session.
 */
interface KeptHashes {
  /** Bytes hashed: valid only while it equals the stored upload size. */
  offset: number;
  /** The driver's version of the content hashed (FileWriter.version): valid only while it is current. */
  version?: string;
  hashes?: Partial<Record<Algorithm, Hash>>;
  saved?: Uint8Array;
}

/** Saves resumable sha256 states in storage, computed in a worker thread (storage.uploads.hashstate). */
export interface ResumableHashing {
  states: HashStateStore;
  worker: Sha256Worker;
  /** Uploads shorter than this keep their state in this process only (storage.uploads.hashstateminsize). */
  minBytes: number;
}

/**
 * Upload sessions live in storage (`_uploads/<uuid>`), so any process sharing the store can continue
 * them. The running hash is kept in this process between requests; with `resumable`, its sha256
 * is also saved beside the data after each PATCH, so that another replica, or this one after a
 * restart, continues it. Without a usable one (none saved, or not for exactly the stored bytes),
 * the commit re-reads the data to hash it instead.
 */
export class UploadManager {
  private readonly hashes = new LRUCache<string, KeptHashes>({ max: MAX_HASH_STATES, ttl: HASH_STATE_TTL_MS });

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly signer: UploadStateSigner,
    /** Told how many bytes each chunk added (metrics). */
    private readonly onBytes: (n: number) => void = () => undefined,
    /** Undefined: no state is saved, and a commit elsewhere reads the data back. */
    private readonly resumable?: ResumableHashing,
    /**
     * Undefined where the driver keeps a request's writes out of a committed blob by itself (S3:
     * the part chain makes a commit that raced another request fail).
     */
    private readonly sessions?: SessionExclusion,
  ) {}

  /**
   * `algorithm`: the one the closing digest will use, when the client said so. It travels in the
   * session's signed token, not in storage: a replica that lacks it (or a client that dropped the
   * token) still verifies the digest, only by reading the upload back at the commit.
   */
  async start(name: string, algorithm?: Algorithm): Promise<UploadSession> {
    const uuid = randomUUID();
    const startedAt = new Date().toISOString();
    // Not flushed: a session lost in a crash is harmless (the client starts a new one), and one
    // whose marker reads back empty is purged as stale.
    await this.driver.putContent(paths.uploadStartedAt(name, uuid), Buffer.from(startedAt), { durable: false });
    return { name, uuid, offset: 0, startedAt, ...(algorithm && { algorithm }) };
  }

  /**
   * Finds a session in storage; `token` is the `_state` from its Location. It is required: the uuid
   * alone (in logs, in Docker-Upload-UUID) must not let anybody append to, read or cancel an upload,
   * and every client echoes the Location it was given. A missing token is refused as a bad one is.
   * Without `withOffset` the offset is left 0 (append and complete learn it from the data itself).
   */
  async resolve(name: string, uuid: string, token: string | undefined, withOffset = true): Promise<UploadSession> {
    if (!UUID.test(uuid)) throw new DomainError('upload-unknown', { uuid: uuid.slice(0, 100) });
    const state = this.signer.unpack(token, name, uuid);
    // The verified token carries the start time: the marker need only exist.
    const [marker, offset] = await Promise.all([
      fileSize(this.driver, paths.uploadStartedAt(name, uuid)),
      withOffset ? sizeOf(this.driver, paths.uploadData(name, uuid)) : 0,
    ]);
    if (marker === null) throw new DomainError('upload-unknown', { uuid });
    return { name, uuid, offset: offset ?? 0, startedAt: state.startedAt, ...(state.algorithm && { algorithm: state.algorithm }) };
  }

  /** Bytes the session holds now. */
  async size(session: UploadSession): Promise<number> {
    return (await sizeOf(this.driver, paths.uploadData(session.name, session.uuid))) ?? 0;
  }

  token(session: UploadSession): string {
    return this.signer.pack(session);
  }

  /** Appends one chunk (PATCH). */
  async append(session: UploadSession, input: ChunkInput): Promise<UploadSession> {
    const { size: offset } = await this.leased(session, input.signal, (lease) => this.write(session, input, false, session.algorithm, lease));
    return { ...session, offset };
  }

  /**
   * Appends the final chunk (if any), verifies the digest, and makes the blob visible: the data moves
   * into the global blob store and the repository gets its link. Idempotent when the blob exists.
   */
  async complete(session: UploadSession, digest: Digest, input?: ChunkInput): Promise<void> {
    await this.leased(session, input?.signal, (lease) => this.commit(session, digest, input, lease));
  }

  /** complete() holding the session's lease, from the writer's open through the end of the session. */
  private async commit(session: UploadSession, digest: Digest, input: ChunkInput | undefined, lease: SessionHold | undefined): Promise<void> {
    const key = this.key(session);
    const data = paths.uploadData(session.name, session.uuid);
    const { size, running } = await this.write(session, input ?? { body: Readable.from([]) }, true, digest.algorithm, lease);
    this.hashes.delete(key);
    // Data is stored under its sha256 whatever digest the client named, as Distribution does, so
    // a sha512 push needs both; the streamed digests save a pass when they cover the whole upload.
    const streamed: Partial<Record<Algorithm, string>> = {};
    if (running) for (const [a, h] of Object.entries(running.hashes)) streamed[a as Algorithm] = h.digest('hex');
    // A worker that failed costs a re-read, like a state that is missing.
    if (running?.resumable) streamed.sha256 = await running.resumable.digest().catch(() => undefined);
    const needed = [...new Set<Algorithm>(['sha256', digest.algorithm])];
    const wanted = needed.filter((a) => streamed[a] === undefined);
    let hashed = { ...streamed, ...(wanted.length > 0 ? await this.rehash(data, wanted) : {}) };
    // A running hash covers the bytes this session's requests streamed, which are the stored ones
    // unless another request appended between them and the check missed it: the stored bytes, not
    // the hash, decide whether a digest is refused.
    if (hashed[digest.algorithm] !== digest.hex && wanted.length < needed.length) hashed = await this.rehash(data, needed);
    const sha256 = hashed.sha256!;
    const actual = hashed[digest.algorithm];
    if (actual !== digest.hex) {
      await lease?.end();
      if (size === 0 && (await this.finishEarlierCommit(session, digest))) return;
      await this.cancel(session);
      throw new DomainError('digest-invalid', { digest: digest.value });
    }
    const canonical = parseDigest(`sha256:${sha256}`);
    // Linked before the data is looked for, so that a collection running now either sees the link
    // or is waited out (gc-fence.ts): data found stored then stays, and otherwise this upload's own
    // bytes are moved into place.
    if ((await this.blobs.linkFenced(session.name, digest, canonical)) === null) {
      // The link may have waited out a collection: a request that took the session over since
      // would be appending to the file this renames.
      lease?.assertHeld();
      await this.driver.move(data, paths.blobData(canonical));
    }
    await this.blobs.alias(digest, canonical);
    await lease?.end();
    // Settled: this request held the session to its end (on S3, where none is held, a racing PATCH's
    // leftovers are the upload purge's).
    await deleteIfExists(this.driver, paths.uploadDir(session.name, session.uuid), { settled: true });
  }

  /**
   * An empty session whose blob the repository already holds is one whose commit moved the data into
   * place (link first) and died before it ended the session: a retry of that PUT finishes it rather
   * than blaming the client's digest. False when the repository does not hold the blob.
   */
  private async finishEarlierCommit(session: UploadSession, digest: Digest): Promise<boolean> {
    let canonical: Digest;
    try {
      canonical = (await this.blobs.stat(session.name, digest)).canonical;
    } catch (err) {
      if (isDomainError(err, 'blob-unknown')) return false;
      throw err;
    }
    this.hashes.delete(this.key(session));
    await this.blobs.alias(digest, canonical);
    await deleteIfExists(this.driver, paths.uploadDir(session.name, session.uuid));
    return true;
  }

  /**
   * DELETE takes no lease: it must free a full disk, where a lease cannot be written. A request
   * still writing to the session loses its lease with it (its renewal finds the lease gone) and
   * writes only into the deleted file.
   */
  async cancel(session: UploadSession): Promise<void> {
    if (!(await this.discard(session))) throw new DomainError('upload-unknown', { uuid: session.uuid });
  }

  /** Deletes the session and what it holds; false when it was already gone. */
  async discard(session: UploadSession): Promise<boolean> {
    this.hashes.delete(this.key(session));
    return deleteIfExists(this.driver, paths.uploadDir(session.name, session.uuid));
  }

  /** Deletes sessions started more than `maxAgeMs` ago; returns how many. */
  async purge(maxAgeMs: number, now = Date.now(), dryRun = false): Promise<string[]> {
    const purged: string[] = [];
    const marker = /^(.*\/_uploads\/[^/]+)\/startedat$/;
    const stale: string[] = [];
    try {
      for await (const info of this.driver.walk(REPOSITORIES)) {
        const m = marker.exec(info.path);
        if (!m || info.isDir) continue;
        stale.push(m[1]);
      }
    } catch (err) {
      if (isNotFound(err)) return purged;
      throw err;
    }
    for (const dir of stale) {
      let started: number;
      try {
        started = Date.parse((await this.driver.getContent(`${dir}/startedat`)).toString('utf8').trim());
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      // An unreadable date is treated as stale: nothing could ever complete such a session.
      if (Number.isFinite(started) && now - started < maxAgeMs) continue;
      purged.push(dir);
      if (!dryRun) await deleteIfExists(this.driver, dir);
    }
    return purged;
  }

  private key(session: UploadSession): string {
    return `${session.name}/${session.uuid}`;
  }

  /**
   * Runs `work` holding the session (a lease in storage, or a lock in memory: see
   * session-exclusion.ts), which is released however it ends. Without an exclusion, `work` runs
   * alone.
   */
  private async leased<T>(session: UploadSession, signal: AbortSignal | undefined, work: (lease?: SessionHold) => Promise<T>): Promise<T> {
    if (this.sessions === undefined) return work();
    const lease = await this.sessions.acquire(session.name, session.uuid, signal);
    try {
      // Ended (committed, cancelled) while this waited; a storage lease has made its directory
      // again, which goes with it.
      if (lease.recheck && (await fileSize(this.driver, paths.uploadStartedAt(session.name, session.uuid))) === null) {
        await lease.end();
        await deleteIfExists(this.driver, paths.uploadDir(session.name, session.uuid));
        throw new DomainError('upload-unknown', { uuid: session.uuid });
      }
      return await work(lease);
    } finally {
      // Not released, it only expires: the request's own outcome is what the client must hear.
      await lease.release().catch(() => undefined);
    }
  }

  /**
   * Streams one chunk into the session's data; returns the new size, and the running digests when
   * they cover all of it. A session's first chunk starts them: sha256, and `algorithm` when the
   * client named another.
   */
  private async write(
    session: UploadSession,
    input: ChunkInput,
    commit: boolean,
    algorithm?: Algorithm,
    lease?: SessionHold,
  ): Promise<{ size: number; running?: Running }> {
    const key = this.key(session);
    const writer = await this.driver.writer(paths.uploadData(session.name, session.uuid), { append: true, signal: input.signal });
    const start = writer.size;
    const opened = writer.version;
    const expected = input.range ? input.range.end - input.range.start + 1 : input.contentLength;
    const reject = async (err: DomainError) => {
      await endQuietly(writer);
      throw err;
    };
    if (input.range && input.range.start !== start)
      await reject(new DomainError('upload-range-invalid', { offset: start }, 'chunk does not start at the end of the upload'));
    if (input.range && input.contentLength !== undefined && input.contentLength !== expected)
      await reject(new DomainError('size-invalid', { contentLength: input.contentLength, contentRange: expected }));

    const running = await this.runningHashes(session, { offset: start, version: opened }, commit, algorithm);
    const hashes = running ? Object.values(running.hashes) : [];
    let resumable = running?.resumable;
    let count = 0;
    try {
      await pipeline(
        input.body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            count += chunk.length;
            if (expected !== undefined && count > expected)
              throw new DomainError('size-invalid', { expected }, 'body longer than its Content-Length or Content-Range');
            // A request that lost the session to another must not write into what that one commits.
            lease?.assertHeld();
            for (const h of hashes) h.update(chunk);
            // Not the upload's failure: without its sha256 the commit reads the data back.
            if (resumable) await resumable.update(chunk).catch(() => (resumable = undefined));
            yield chunk;
          }
        },
        writer,
        // A final chunk leaves the writer open for commit(), which then flushes before closing
        // instead of reopening the file to flush it.
        { end: !commit },
      );
      if (expected !== undefined && count !== expected)
        throw new DomainError('size-invalid', { expected, received: count }, 'body shorter than its Content-Length or Content-Range');
      this.onBytes(count);
      if (commit) await writer.commit();
    } catch (err) {
      this.hashes.delete(key);
      running?.resumable?.drop();
      if (err instanceof ConcurrentUploadError) {
        // What is stored is no one request's bytes: the client can only start over.
        await this.discard(session);
        throw new DomainError('upload-changed', {}, 'the upload was changed by another request');
      }
      // A final chunk's writer is still open when the body was rejected after it streamed (a
      // short body): end it so that its handle closes, keeping what it wrote as an end would.
      if (!writer.writableEnded && !writer.destroyed) await endQuietly(writer);
      // The lease is released after this: no write of this request may land after that.
      if (lease) await finished(writer).catch(() => undefined);
      throw err;
    }
    const size = start + count;
    // Another request appending to the session meanwhile (a second client, a retry racing the
    // original) put bytes among these that the running hashes never saw: they are then not the
    // digests of what is stored, and the commit reads the data instead.
    if (running && commit && (await sizeOf(this.driver, paths.uploadData(session.name, session.uuid))) !== size) {
      running.resumable?.drop();
      return { size };
    }
    if (running?.resumable) {
      if (resumable === undefined) return { size };
      if (commit) return { size, running };
      // Saved before the PATCH is acknowledged, so that the client's next request finds it
      // whichever replica it reaches.
      const saved = await resumable.save().catch(() => undefined);
      resumable.drop();
      if (saved === undefined) return { size };
      this.hashes.set(key, { offset: size, version: writer.version, saved });
      if (this.resumable && size >= this.resumable.minBytes) await this.resumable.states.save(session, size, writer.version, saved);
      return { size };
    }
    if (running) this.hashes.set(key, { offset: size, version: writer.version, hashes: running.hashes });
    return { size, running };
  }

  /**
   * The digests to continue at `at`: this process's own when it hashed up to there, else (sha256
   * uploads only) the state saved in storage for exactly those bytes. Undefined: none, the commit
   * re-reads the data. Both must be of the stored version: a request racing this session's last one
   * may have stored other bytes of the same size, and a hash of those is not a hash of these.
   */
  private async runningHashes(
    session: UploadSession,
    at: { offset: number; version?: string },
    commit: boolean,
    algorithm?: Algorithm,
  ): Promise<Running | undefined> {
    const key = this.key(session);
    const start = at.offset;
    const found = this.hashes.get(key);
    const kept = found?.version === at.version ? found : undefined;
    this.hashes.delete(key);
    const r = algorithm === undefined || algorithm === 'sha256' ? this.resumable : undefined;
    if (kept?.offset === start && kept.saved) return r && { hashes: {}, resumable: r.worker.create(kept.saved) };
    if (kept?.offset === start && kept.hashes) return { hashes: kept.hashes };
    // A single-request upload has no later request to save a state for: the native hash is faster.
    if (start === 0) return r && !commit ? { hashes: {}, resumable: r.worker.create() } : { hashes: nativeHashes(algorithm) };
    // The writer is open already: storage failing to give the state costs a re-read, not a leak.
    const loaded = await r?.states.load(session, start, at.version).catch(() => undefined);
    return loaded && { hashes: {}, resumable: r!.worker.create(loaded) };
  }

  private async rehash(path: string, algorithms: Algorithm[]): Promise<Partial<Record<Algorithm, string>>> {
    return hashStream(await this.driver.reader(path), algorithms);
  }
}

function nativeHashes(algorithm: Algorithm | undefined): Partial<Record<Algorithm, Hash>> {
  const hashes: Partial<Record<Algorithm, Hash>> = { sha256: createDigester('sha256') };
  if (algorithm && algorithm !== 'sha256') hashes[algorithm] = createDigester(algorithm);
  return hashes;
}

async function endQuietly(writer: Writable): Promise<void> {
  await new Promise<void>((resolve) => {
    writer.once('error', () => resolve());
    writer.end(() => resolve());
  });
}
