import { randomUUID, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LRUCache } from 'lru-cache';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { DomainError, isDomainError } from './errors';
import { createDigester, hashStream, parseDigest, type Algorithm, type Digest } from './digest';
import { paths, REPOSITORIES } from './paths';
import { deleteIfExists, fileSize, sizeOf } from './links';
import type { BlobStore } from './blobs';
import { UploadStateSigner } from './upload-state';

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

/** Running digests of the upload's bytes: sha256 always, and the algorithm the client uses. */
interface HashState {
  hashes: Partial<Record<Algorithm, Hash>>;
  /** Bytes hashed: valid only while it equals the stored upload size. */
  offset: number;
}

/**
 * Upload sessions live in storage (`_uploads/<uuid>`), so any process sharing the store can continue
 * them. The running hash is kept in this process as an optimisation only: when another replica
 * appended in between, or after a restart, the offsets no longer match and the commit re-reads the
 * data to hash it instead.
 */
export class UploadManager {
  private readonly hashes = new LRUCache<string, HashState>({ max: MAX_HASH_STATES, ttl: HASH_STATE_TTL_MS });

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly signer: UploadStateSigner,
    /** Told how many bytes each chunk added (metrics). */
    private readonly onBytes: (n: number) => void = () => undefined,
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
    const offset = await this.write(session, input, false, session.algorithm);
    return { ...session, offset };
  }

  /**
   * Appends the final chunk (if any), verifies the digest, and makes the blob visible: the data moves
   * into the global blob store and the repository gets its link. Idempotent when the blob exists.
   */
  async complete(session: UploadSession, digest: Digest, input?: ChunkInput): Promise<void> {
    const key = this.key(session);
    const data = paths.uploadData(session.name, session.uuid);
    const size = await this.write(session, input ?? { body: Readable.from([]) }, true, digest.algorithm);
    const state = this.hashes.get(key);
    this.hashes.delete(key);
    // Data is stored under its sha256 whatever digest the client named, as Distribution does, so
    // a sha512 push needs both; the streamed digests save a pass when they cover the whole upload.
    const streamed: Partial<Record<Algorithm, string>> = {};
    if (state && state.offset === size) for (const [a, h] of Object.entries(state.hashes)) streamed[a as Algorithm] = h.digest('hex');
    const wanted = [...new Set<Algorithm>(['sha256', digest.algorithm])].filter((a) => streamed[a] === undefined);
    const hashed = { ...streamed, ...(wanted.length > 0 ? await this.rehash(data, wanted) : {}) };
    const sha256 = hashed.sha256!;
    const actual = hashed[digest.algorithm];
    if (actual !== digest.hex) {
      if (size === 0 && (await this.finishEarlierCommit(session, digest))) return;
      await this.cancel(session);
      throw new DomainError('digest-invalid', { digest: digest.value });
    }
    const canonical = parseDigest(`sha256:${sha256}`);
    // Linked before the data is looked for, so that a collection running now either sees the link
    // or is waited out (gc-fence.ts): data found stored then stays, and otherwise this upload's own
    // bytes are moved into place.
    if ((await this.blobs.linkFenced(session.name, digest, canonical)) === null) await this.driver.move(data, paths.blobData(canonical));
    await this.blobs.alias(digest, canonical);
    await deleteIfExists(this.driver, paths.uploadDir(session.name, session.uuid));
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
   * Streams one chunk into the session's data; returns the new size. A session's first chunk
   * starts its running digests: sha256, and `algorithm` when the client named another.
   */
  private async write(session: UploadSession, input: ChunkInput, commit: boolean, algorithm?: Algorithm): Promise<number> {
    const key = this.key(session);
    const writer = await this.driver.writer(paths.uploadData(session.name, session.uuid), { append: true, signal: input.signal });
    const start = writer.size;
    const expected = input.range ? input.range.end - input.range.start + 1 : input.contentLength;
    const reject = async (err: DomainError) => {
      await endQuietly(writer);
      throw err;
    };
    if (input.range && input.range.start !== start)
      await reject(new DomainError('upload-range-invalid', { offset: start }, 'chunk does not start at the end of the upload'));
    if (input.range && input.contentLength !== undefined && input.contentLength !== expected)
      await reject(new DomainError('size-invalid', { contentLength: input.contentLength, contentRange: expected }));

    let state = this.hashes.get(key);
    if (!state || state.offset !== start) {
      this.hashes.delete(key);
      state = start === 0 ? { hashes: startHashes(algorithm), offset: 0 } : undefined;
    }
    const hashes = state ? Object.values(state.hashes) : [];
    let count = 0;
    try {
      await pipeline(
        input.body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            count += chunk.length;
            if (expected !== undefined && count > expected)
              throw new DomainError('size-invalid', { expected }, 'body longer than its Content-Length or Content-Range');
            for (const h of hashes) h.update(chunk);
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
      // A final chunk's writer is still open when the body was rejected after it streamed (a
      // short body): end it so that its handle closes, keeping what it wrote as an end would.
      if (!writer.writableEnded && !writer.destroyed) await endQuietly(writer);
      throw err;
    }
    if (state) {
      state.offset = start + count;
      this.hashes.set(key, state);
    }
    return start + count;
  }

  private async rehash(path: string, algorithms: Algorithm[]): Promise<Partial<Record<Algorithm, string>>> {
    return hashStream(await this.driver.reader(path), algorithms);
  }
}

function startHashes(algorithm: Algorithm | undefined): Partial<Record<Algorithm, Hash>> {
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
