import type { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '../oci/blobs';
import type { Digest } from '../oci/digest';
import { isDomainError } from '../oci/errors';
import type { UploadManager } from '../oci/uploads';
import { BlobFetchError } from './blob-fetch-error';
import type { BlobFetchObserver } from './blob-fetch-observer';
import { RecentChunks } from './recent-chunks';
import { Spool } from './spool';
import { SpoolAppender } from './spool-appender';
import { SpoolReader, type SpoolState, type SpoolView } from './spool-reader';

/** One blob's bytes as the upstream sends them; `size` when it declared one (Content-Length). */
export interface UpstreamBlob {
  stream: Readable;
  size?: number;
}

/** Asks the upstream for the blob; `signal` aborts the request and its body. */
export type OpenUpstream = (signal: AbortSignal) => Promise<UpstreamBlob>;

export interface FlightDeps {
  blobs: BlobStore;
  uploads: UploadManager;
  spoolDirectory: string;
  observer: BlobFetchObserver;
  finishAbandoned: boolean;
  /** Called once the flight can take no more callers: committed, failed, or found stored. */
  onDone: () => void;
}

/**
 * 'spool': read the bytes from this flight; 'stored': the blob was found in storage once the
 * upstream answered (committed meanwhile by another replica, or held by another repository) and is
 * now linked into this one: read it from storage.
 */
export type FlightOutcome = 'spool' | 'stored';

/**
 * The newest bytes a fetch keeps in memory (besides those not yet in the spool, which it always
 * holds) for readers that keep up with it: several socket reads, so that a reader a little behind
 * the upstream still finds its next bytes there. Not more: chunks held longer outlive V8's young
 * generation, and freeing them took major collections, 11% of a cold pull's CPU with 4 MiB held
 * (perf), none with 512 KiB.
 */
export const RECENT_BYTES = 512 * 1024;

/**
 * One upstream fetch of one blob into one repository, and the callers reading it meanwhile. The
 * upstream's bytes go into a local spool as fast as the upstream, the local disk and the storage
 * write allow (storageHolds); every caller, and the storage write, tails that spool at its own pace,
 * taking the newest bytes from memory (RecentChunks) while it keeps up and from the spool file once
 * it falls behind. The storage write is an upload
 * session committed by UploadManager.complete, which hashes the bytes, and links and moves them into
 * place only when the digest matches (the same GC fencing as any push). Callers get their last
 * byte, or their end when the size is unknown, only after that: a failure destroys their streams
 * instead, so that no client ever sees a clean end of wrong or short bytes.
 */
export class BlobFlight {
  readonly ready: Promise<FlightOutcome>;
  readonly settled: Promise<void>;
  private readonly controller = new AbortController();
  private readonly readers = new Set<SpoolReader>();
  private readonly wakers: Array<() => void> = [];
  private resolveReady!: (o: FlightOutcome) => void;
  private rejectReady!: (err: Error) => void;
  private spool?: Spool;
  private spoolHeld = false;
  private size?: number;
  /** Received bytes, the newest of them held in memory. */
  private readonly recent = new RecentChunks(RECENT_BYTES);
  /** Bytes in the spool file. */
  private written = 0;
  /** Bytes the storage write has taken, and the pump waiting for it to take more. */
  private stored = 0;
  private storageBody?: SpoolReader;
  private awaitingStorage: (() => void) | null = null;
  /** Every byte is in the spool. */
  private complete = false;
  /** The blob is committed: its digest matched. */
  private verified = false;
  private error?: Error;
  private callers = 0;
  private finished = false;
  private settledFlag = false;
  private opened = false;

  constructor(
    private readonly deps: FlightDeps,
    readonly repository: string,
    readonly digest: Digest,
    open: OpenUpstream,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Callers may all have left before it settles; they get the error through their own await.
    this.ready.catch(() => undefined);
    this.settled = this.run(open);
  }

  /** The size callers can announce: the declared one, or the whole when all of it is here. */
  get knownSize(): number | undefined {
    return this.size ?? (this.complete ? this.written : undefined);
  }

  /**
   * Counts a caller until `release` (called when its reader closes, or when it gives up waiting).
   * A flight with callers keeps its spool open; one that every caller left is aborted when
   * `finishAbandoned` is off.
   */
  attach(): () => void {
    this.callers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.callers--;
      if (this.callers === 0 && !this.deps.finishAbandoned && !this.complete)
        this.fail(new BlobFetchError('abandoned', `every client left the fetch of ${this.digest.value}`));
      this.releaseSpoolIfIdle();
    };
  }

  /**
   * A stream of the blob for an attached caller, once `ready` said 'spool'; `release` runs when it
   * closes. With `range`, only those bytes (inclusive), as they arrive: the reader waits until the
   * fetch reaches the range's start, skipping nothing the fetch itself needs.
   */
  reader(signal: AbortSignal | undefined, release: () => void, range?: ByteRange): Readable {
    const reader = new SpoolReader(this.spool!, this.view('client', range && range.end + 1), {
      start: range?.start,
      signal,
      onBytes: (n) => this.deps.observer.servedBytes?.(n),
      onClose: () => {
        this.readers.delete(reader);
        release();
      },
    });
    this.readers.add(reader);
    if (this.error) reader.destroy(this.error);
    return reader;
  }

  /** Aborts the fetch (shutdown). */
  abort(err: Error): void {
    this.fail(err);
  }

  private async run(open: OpenUpstream): Promise<void> {
    this.deps.observer.fetchStarted?.(this.repository, this.digest);
    try {
      this.spool = await Spool.create(this.deps.spoolDirectory);
      this.spoolHeld = true;
      const upstream = await open(this.controller.signal);
      this.opened = true;
      // The response may break before the pump iterates it (the session is started first): an
      // 'error' then must not go uncaught; the pump still sees it through `errored`.
      upstream.stream.on('error', () => undefined);
      if (this.error) {
        upstream.stream.destroy();
        throw this.error;
      }
      const stored = await this.deps.blobs.mount(this.repository, this.digest, undefined).catch((err: unknown) => {
        throw asFetchError(err, 'storage-failed');
      });
      if (stored) {
        upstream.stream.destroy();
        this.finish();
        this.resolveReady('stored');
        this.deps.observer.fetchCompleted?.(this.repository, this.digest, 0);
        return;
      }
      this.size = upstream.size;
      this.resolveReady('spool');
      await this.transfer(upstream.stream);
      this.verified = true;
      this.wake();
      this.finish();
      this.deps.observer.fetchCompleted?.(this.repository, this.digest, this.written);
    } catch (err) {
      // What open() threw goes to the callers as it is: the route maps the upstream's answer
      // (not found, rate-limited, unauthorized) to its own.
      this.fail(this.opened ? asFetchError(err) : toError(err));
      this.rejectReady(this.error!);
    } finally {
      this.finish();
      this.settledFlag = true;
      this.releaseSpoolIfIdle();
    }
  }

  /** Spools the upstream's bytes while the storage write tails them; resolves once committed. */
  private async transfer(stream: Readable): Promise<void> {
    // Read from the start, while the upload session is created: an upstream socket left unread
    // meanwhile stops a remote upstream's transfer once its (still small) window is full.
    const pumping = this.pump(stream);
    const committing = this.store();
    // A storage failure stops the fetch at once rather than after the upstream's last byte.
    committing.catch((err: Error) => this.fail(err));
    try {
      await pumping;
    } catch (err) {
      const failed = asFetchError(err);
      this.fail(failed);
      await committing.catch(() => undefined);
      // The first failure is the one the readers saw (a storage failure may have stopped the pump).
      throw this.error ?? failed;
    }
    await committing;
  }

  /** Writes the blob through an upload session, reading what the pump brings; rejects with a BlobFetchError. */
  private async store(): Promise<void> {
    const { uploads } = this.deps;
    const session = await uploads.start(this.repository).catch((err: unknown) => {
      throw asFetchError(err, 'storage-failed');
    });
    try {
      // Failed meanwhile: the readers were destroyed already, and a new one would wait forever.
      if (this.error) throw this.error;
      const body = new SpoolReader(this.spool!, this.view('storage'), {
        onBytes: (n) => {
          this.stored += n;
          if (!this.storageHolds()) this.resumePump();
        },
      });
      this.storageBody = body;
      this.readers.add(body);
      await uploads.complete(session, this.digest, { body, contentLength: this.size });
    } catch (err) {
      await uploads.discard(session).catch(() => false);
      throw asFetchError(err, 'storage-failed');
    }
  }

  private async pump(stream: Readable): Promise<void> {
    const signal = this.controller.signal;
    const onAbort = () => stream.destroy(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const appender = new SpoolAppender(this.spool!, (n) => {
      this.written += n;
      this.recent.trim(this.written);
      this.deps.observer.upstreamBytes?.(n);
      this.wake();
    });
    try {
      if (signal.aborted) onAbort();
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (this.size !== undefined && this.recent.end + chunk.length > this.size)
          throw new BlobFetchError('size-mismatch', `the upstream sent more than the ${this.size} bytes it declared for ${this.digest.value}`);
        // Readers may take it before it is in the spool: the spool only serves those that fall behind.
        this.recent.add(chunk);
        this.wake();
        if (this.storageHolds()) await new Promise<void>((resolve) => (this.awaitingStorage = resolve));
        await appender.write(chunk);
      }
      await appender.flush();
      if (this.size !== undefined && this.written !== this.size)
        throw new BlobFetchError('size-mismatch', `the upstream ended ${this.digest.value} after ${this.written} of ${this.size} bytes`);
      this.complete = true;
      this.wake();
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A write still in flight uses the spool's descriptor, which the flight may close next.
      await appender.settle();
    }
  }

  /**
   * Callers may read all but the last byte before the commit (a client that got Content-Length
   * bytes would take the blob as whole), and end only after it; the storage write reads everything
   * and ends with the upstream. A caller of a range (`end`: the offset just past it) is held the
   * same way at its own last byte, so that a 206 too ends cleanly only with verified bytes.
   */
  private view(kind: 'client' | 'storage', end?: number): SpoolView {
    return {
      state: (): SpoolState => {
        const received = this.recent.end;
        const spooled = this.written;
        if (kind === 'storage') return { available: received, spooled, done: this.complete, error: this.error };
        const limit = end ?? this.size;
        if (this.verified) return { available: limit === undefined ? received : Math.min(received, limit), spooled, done: true };
        const held = limit === undefined ? received : Math.min(received, Math.max(0, limit - 1));
        return { available: held, spooled, done: false, error: this.error };
      },
      held: (position, limit, max) => this.recent.slice(position, limit, max),
      whenChanged: (wake) => void this.wakers.push(wake),
    };
  }

  /**
   * Whether the upstream waits for the storage write. The write must take every byte before anyone
   * gets the last, and one left behind would read the rest back from the spool: the fetch and the
   * write share one CPU, so it does not catch up by itself. But a write whose own sink is busy (an
   * S3 part upload) does not hold the upstream: it catches up from the spool afterwards, and the
   * transfer and the upload overlap. Clients never hold it back.
   */
  private storageHolds(): boolean {
    if (this.recent.end - this.stored <= RECENT_BYTES) return false;
    const body = this.storageBody;
    return !body || body.readableLength < body.readableHighWaterMark;
  }

  private resumePump(): void {
    const resume = this.awaitingStorage;
    this.awaitingStorage = null;
    resume?.();
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private fail(err: Error): void {
    if (this.error || this.verified) return;
    this.error = err;
    this.controller.abort(err);
    this.finish();
    for (const r of [...this.readers]) r.destroy(err);
    this.wake();
    this.resumePump();
    this.deps.observer.fetchFailed?.(this.repository, this.digest, err);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.deps.onDone();
  }

  private releaseSpoolIfIdle(): void {
    // The flight's own hold lasts until it has settled, and while callers may still open readers.
    if (!this.spoolHeld || this.callers > 0 || !this.settledFlag) return;
    this.spoolHeld = false;
    this.spool!.release();
    this.recent.clear();
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** `err` as a BlobFetchError; others than the fetcher's own are blamed on `source`. */
function asFetchError(err: unknown, source: 'upstream-failed' | 'storage-failed' = 'upstream-failed'): Error {
  if (err instanceof BlobFetchError) return err;
  if (isDomainError(err, 'digest-invalid')) return new BlobFetchError('digest-mismatch', 'the upstream sent bytes that do not match the digest', { cause: err });
  const where = source === 'upstream-failed' ? 'the upstream' : 'storage';
  return new BlobFetchError(source, `the blob fetch failed in ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
