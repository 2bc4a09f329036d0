import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { ConcurrentUploadError } from '../errors';
import { endAndFinish } from '../streams';
import type { FileWriter } from '../types';
import type { S3Context } from './context';
import { MAX_PARTS, partSizeFor } from './limits';
import { abortUpload, completeUpload, createUpload, listParts, type Part, uploadPart } from './multipart';
import { reopenCommitted } from './reopen';
import { dropUploadState, extendChain, partChain, saveUploadState, type UploadState } from './upload-state';

/**
 * Streams into a multipart upload one part at a time: it holds at most one part (plus the chunk
 * that completes it) in memory, and the part size grows with the bytes so far (limits.ts). Ending
 * without commit stores the short tail and the part count in the upload object, so a writer in any
 * process can continue; commit sends the tail as the last part (or, for content shorter than a
 * part, as one PutObject) and completes the upload, so the content is never copied through here.
 * An append writer may also continue committed content (a commit whose caller died before it used
 * the content): that stays in place, and is rewritten only when bytes are added to it.
 *
 * Writers that continue one upload from the same point at once store the same part numbers over
 * each other, so the stored parts can be a mix of theirs at exactly the size either wrote. Each
 * writer extends the upload object's chain of part ETags with the parts it stored; a commit
 * refuses (ConcurrentUploadError) when the listed parts do not give the chain the upload object
 * records, and completes with the ETags it checked, so that a part stored over meanwhile fails
 * the completion (InvalidPart) instead of being assembled.
 */
export class S3Writer extends Writable implements FileWriter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private uploadId: string | undefined;
  /** This session created the multipart upload and no upload object names it yet. */
  private unsavedUpload = false;
  private parts: number;
  private partBytes: number;
  private readonly earlier: { parts: number; bytes: number; chain?: string };
  /** The ETag chain of parts 1..parts; undefined when an upload object from before it continues. */
  private chain: string | undefined;
  private savedVersion: string | undefined;
  private readonly sessionParts: Part[] = [];
  private commitRequested = false;
  private outcome: 'open' | 'committed' | 'cancelled' = 'open';
  private inflight: Promise<unknown> = Promise.resolve();
  /** Reused for every part: a fresh buffer per part leaves GC a part-sized garbage pile to chase. */
  private partBuffer: Buffer | undefined;
  /** Committed bytes at the path that this writer continues and has not rewritten yet. */
  private committedBytes: number;
  /** The committed content became the start of this writer's upload. */
  private reopened = false;

  constructor(
    private readonly ctx: S3Context,
    private readonly path: string,
    initial: UploadState,
    private readonly signal?: AbortSignal,
    committed = 0,
  ) {
    super();
    this.committedBytes = committed;
    this.uploadId = initial.uploadId;
    this.parts = initial.parts;
    this.partBytes = initial.partBytes;
    this.earlier = { parts: initial.parts, bytes: initial.partBytes, chain: initial.chain };
    this.chain = initial.chain;
    this.savedVersion = initial.version;
    if (initial.tail.length > 0) {
      this.chunks.push(initial.tail);
      this.buffered = initial.tail.length;
    }
  }

  get size(): number {
    return this.committedBytes + this.partBytes + this.buffered;
  }

  /**
   * Which write of the upload object this writer's content is: the one it continued until it ends,
   * then the one it saved. A hash of the content is for that version only: another writer's save
   * (of other bytes, at the same size) gives another. Undefined for committed content.
   */
  get version(): string | undefined {
    return this.committedBytes > 0 || this.committed ? undefined : this.savedVersion;
  }

  private get key(): string {
    return this.ctx.key(this.path);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.track(this.reopen().then(() => this.uploadFullParts())).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    const work = this.commitRequested ? this.completeCommit() : this.saveState();
    this.track(work).then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Let a part upload in flight settle so that no request lands after the caller moved on.
    void this.inflight
      .then(async () => {
        if (this.unsavedUpload && this.outcome !== 'committed' && this.uploadId !== undefined) {
          await abortUpload(this.ctx, this.key, this.uploadId).catch(() => undefined);
        }
      })
      .then(() => callback(err));
  }

  async commit(): Promise<void> {
    if (this.outcome === 'committed') throw new Error(`s3: ${this.path} is already committed`);
    if (this.outcome === 'cancelled') throw new Error(`s3: the writer of ${this.path} was cancelled`);
    if (!this.writableEnded) this.commitRequested = true;
    await endAndFinish(this);
    // _final commits when commit() ended the stream; an earlier end() only stored the state.
    if (!this.committed) await this.track(this.completeCommit());
  }

  async cancel(): Promise<void> {
    if (this.outcome !== 'open') return;
    this.outcome = 'cancelled';
    if (!this.closed) {
      const closed = new Promise((resolve) => this.once('close', resolve));
      this.destroy();
      await closed;
    }
    await this.inflight;
    if (this.uploadId !== undefined) await abortUpload(this.ctx, this.key, this.uploadId);
    await dropUploadState(this.ctx, this.path);
  }

  private get committed(): boolean {
    return this.outcome === 'committed';
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight = work.catch(() => undefined);
    return work;
  }

  private async uploadFullParts(): Promise<void> {
    for (let size = this.nextPartSize(); this.buffered >= size; size = this.nextPartSize()) {
      await this.uploadNext(this.take(size, true));
    }
  }

  private nextPartSize(): number {
    return partSizeFor(this.partBytes, this.ctx.options.chunkSize);
  }

  /**
   * Removes exactly `n` buffered bytes as one Buffer. With `reuse`, the bytes land in the part
   * buffer, which is valid only until the next reusing take (UploadPart is done with it by then).
   */
  private take(n: number, reuse = false): Buffer {
    if (this.chunks.length === 1 && this.chunks[0].length === n) {
      const only = this.chunks[0];
      this.chunks = [];
      this.buffered = 0;
      return only;
    }
    if (reuse && (this.partBuffer === undefined || this.partBuffer.length < n)) this.partBuffer = Buffer.allocUnsafe(n);
    const out = reuse ? (this.partBuffer as Buffer).subarray(0, n) : Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const count = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, count);
      filled += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= n;
    return out;
  }

  private async uploadNext(body: Buffer): Promise<void> {
    if (this.parts >= MAX_PARTS) throw new Error(`s3: ${this.path} needs more than ${MAX_PARTS} parts`);
    if (this.uploadId === undefined) {
      this.uploadId = await createUpload(this.ctx, this.key, this.signal);
      this.unsavedUpload = true;
    }
    const part = await uploadPart(this.ctx, this.key, this.uploadId, this.parts + 1, body, this.signal);
    this.sessionParts.push(part);
    if (this.chain !== undefined) this.chain = extendChain(this.chain, part.PartNumber, part.ETag);
    this.parts++;
    this.partBytes += body.length;
  }

  /** Only what this writer added needs storing: committed content it did not extend stays as it is. */
  private get unchanged(): boolean {
    return this.committedBytes > 0 && this.buffered === 0;
  }

  private async reopen(): Promise<void> {
    if (this.committedBytes === 0) return;
    const reopened = await reopenCommitted(this.ctx, this.key, this.committedBytes, this.signal);
    if ('tail' in reopened) {
      this.chunks.unshift(reopened.tail);
      this.buffered += reopened.tail.length;
    } else {
      this.uploadId = reopened.uploadId;
      this.unsavedUpload = true;
      this.sessionParts.push(...reopened.parts);
      this.chain = partChain(reopened.parts);
      this.parts = reopened.parts.length;
      this.partBytes = this.committedBytes;
    }
    this.committedBytes = 0;
    this.reopened = true;
  }

  private async saveState(): Promise<void> {
    if (this.unchanged) return;
    await this.reopen();
    const tail = this.take(this.buffered);
    this.chunks = tail.length > 0 ? [tail] : [];
    this.buffered = tail.length;
    const state = { uploadId: this.uploadId, parts: this.parts, partBytes: this.partBytes, tail, chain: this.chain };
    this.savedVersion = await saveUploadState(this.ctx, this.path, state, this.signal);
    this.unsavedUpload = false;
    // The upload object now holds all of the content; the committed object would hide it from stat.
    if (this.reopened) await this.ctx.send(new DeleteObjectCommand({ Bucket: this.ctx.bucket, Key: this.key }));
    this.reopened = false;
  }

  private async completeCommit(): Promise<void> {
    if (this.unchanged) {
      this.outcome = 'committed';
      return;
    }
    await this.reopen();
    const tail = this.take(this.buffered);
    if (this.uploadId === undefined) {
      await this.ctx.transfer(
        new PutObjectCommand({
          Bucket: this.ctx.bucket,
          Key: this.key,
          Body: tail,
          ContentLength: tail.length,
          ...this.ctx.writeOptions,
        }),
      );
    } else {
      const earlier = await this.earlierParts(this.uploadId);
      if (tail.length > 0) await this.uploadNext(tail);
      await completeUpload(this.ctx, this.key, this.uploadId, [...earlier, ...this.sessionParts]).catch((err: unknown) => {
        throw err instanceof S3ServiceException && err.name === 'InvalidPart' ? new ConcurrentUploadError('s3', this.path) : err;
      });
    }
    this.outcome = 'committed';
    this.unsavedUpload = false;
    await dropUploadState(this.ctx, this.path);
  }

  /** ETags of the parts earlier sessions stored, checked against what the upload object recorded. */
  private async earlierParts(uploadId: string): Promise<Part[]> {
    if (this.earlier.parts === 0) return [];
    const parts = await listParts(this.ctx, this.key, uploadId, this.earlier.parts);
    const bytes = parts.reduce((sum, p) => sum + p.Size, 0);
    if (parts.length !== this.earlier.parts || bytes !== this.earlier.bytes) {
      throw new Error(`s3: the stored parts of ${this.path} do not match its upload state`);
    }
    if (this.earlier.chain !== undefined && partChain(parts) !== this.earlier.chain) throw new ConcurrentUploadError('s3', this.path);
    return parts;
  }
}
