import type { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '../oci/blobs';
import type { Digest } from '../oci/digest';
import { isDomainError } from '../oci/errors';
import type { UploadManager } from '../oci/uploads';
import { BlobFetchError } from './blob-fetch-error';
import type { BlobFetchObserver } from './blob-fetch-observer';
import { BlobFlight, type OpenUpstream } from './blob-flight';

/**
 * Brings upstream blobs into storage for the pull-through mirror while streaming them to the
 * clients that asked (issue 14).
 *
 * Why this shape:
 * - Single flight per process: the first `get` of a blob the repository lacks starts one upstream
 *   request; every concurrent `get` of it joins that flight. Across replicas sharing storage each
 *   replica may fetch once; their commits are content-addressed, so the second finds the blob stored.
 *   Flights are per repository, not per digest: a client of one repository must not be served a
 *   blob because another repository's upstream had it. When the data is already stored, the
 *   upstream's answer for this repository is the confirmation, and the bytes are not transferred.
 * - A local spool, not the storage driver, is what readers tail: the driver contract leaves reading
 *   an uncommitted writer's bytes driver-specific (S3 cannot), while a local file can be read at any
 *   offset as it grows. Each reader reads the spool only as fast as its own client takes the bytes,
 *   so a slow client stalls neither the fetch nor the others, and memory stays at about one chunk
 *   per reader whatever the blob's size. Readers that keep up take the newest bytes from the
 *   flight's memory instead (a fixed amount per flight, blob-flight.ts): reading the spool back was
 *   the largest share of a cold pull's CPU. The spool's name is unlinked at once: no leftovers, even
 *   after a crash. The price is a second copy on local disk while the fetch runs.
 * - The storage write is an ordinary upload session (UploadManager): the bytes are hashed as they
 *   are written, and the blob is linked (GC-fenced, gc-fence.ts) and moved into place only when the
 *   digest matches; a crashed fetch leaves a session that upload purging removes. Clients get their
 *   last byte (their end, without a size) only after that commit; any failure destroys their
 *   streams with a BlobFetchError and leaves nothing cached, and the next `get` starts afresh.
 * - A client that leaves stops only its own stream. When every client has left, the fetch goes on
 *   by default (FINISH_ABANDONED).
 */

/**
 * A fetch that every client left still finishes and commits the blob: a client that gave up (a
 * timeout, a restarted pull) usually asks again at once, a node that pulls a layer is soon followed
 * by others, and the bytes transferred so far would otherwise be wasted on an upstream that may
 * rate-limit. The cost is the upstream bandwidth of a blob nobody waits for at the moment.
 */
export const FINISH_ABANDONED = true;

export interface BlobFetcherOptions {
  blobs: BlobStore;
  /** Commits fetched blobs exactly as pushed ones. Its byte counter, if any, counts them as uploads. */
  uploads: UploadManager;
  /** A local directory for the spool files (created if missing). */
  spoolDirectory: string;
  observer?: BlobFetchObserver;
  /** Whether a fetch every caller left still finishes (default FINISH_ABANDONED). */
  finishAbandoned?: boolean;
}

export interface FetchedBlob {
  stream: Readable;
  /** Bytes the stream will carry, when known (the upstream declared it, or it is stored). */
  size?: number;
  /** 'storage': served from storage (cached); 'upstream': tailing a fetch in flight. */
  source: 'storage' | 'upstream';
  /** The bytes the stream carries when `select` chose a range (inclusive); else the whole blob. */
  range?: ByteRange;
}

export interface GetOptions {
  /** The client's request: aborting it ends only this caller's stream. */
  signal?: AbortSignal;
  /**
   * The part of the blob the caller wants, chosen once its size is known (undefined: all of it).
   * Not called while the size is unknown (an upstream that declared none): the caller gets it all.
   * What it throws (an unsatisfiable range) rejects `get`, after the caller has left the flight.
   */
  select?: (size: number) => ByteRange | undefined;
}

export class BlobFetcher {
  private readonly flights = new Map<string, BlobFlight>();
  /** Every flight until it has settled: one that takes no more callers may still be cleaning up its session. */
  private readonly unsettled = new Set<BlobFlight>();
  private readonly observer: BlobFetchObserver;

  constructor(private readonly opts: BlobFetcherOptions) {
    this.observer = opts.observer ?? {};
  }

  /** Fetches in flight in this process. */
  get inFlight(): number {
    return this.flights.size;
  }

  /**
   * The blob `digest` of `repository`: from storage when the repository has it, else from the
   * upstream through `open`, joining the fetch already in flight for it if there is one. Rejects
   * when the upstream refuses (with `open`'s error, wrapped in a BlobFetchError) or the caller's
   * signal aborts first.
   */
  async get(repository: string, digest: Digest, open: OpenUpstream, opts: GetOptions = {}): Promise<FetchedBlob> {
    opts.signal?.throwIfAborted();
    const key = `${repository}@${digest.value}`;
    let flight = this.flights.get(key);
    if (!flight) {
      const stored = await this.fromStorage(repository, digest, opts);
      if (stored) return stored;
      flight = this.flights.get(key) ?? this.start(key, repository, digest, open);
    }
    return this.join(flight, opts);
  }

  /** Aborts every fetch in flight and waits until they have cleaned up (shutdown). */
  async close(): Promise<void> {
    for (const f of this.flights.values()) f.abort(new BlobFetchError('closed', 'the mirror is shutting down'));
    await Promise.all([...this.unsettled].map((f) => f.settled));
  }

  private start(key: string, repository: string, digest: Digest, open: OpenUpstream): BlobFlight {
    const flight: BlobFlight = new BlobFlight(
      {
        blobs: this.opts.blobs,
        uploads: this.opts.uploads,
        spoolDirectory: this.opts.spoolDirectory,
        observer: this.observer,
        finishAbandoned: this.opts.finishAbandoned ?? FINISH_ABANDONED,
        onDone: () => {
          if (this.flights.get(key) === flight) this.flights.delete(key);
        },
      },
      repository,
      digest,
      open,
    );
    this.flights.set(key, flight);
    this.unsettled.add(flight);
    void flight.settled.then(() => this.unsettled.delete(flight));
    return flight;
  }

  /** Attaches at once (before any await), so that the flight keeps its spool for this caller. */
  private async join(flight: BlobFlight, opts: GetOptions): Promise<FetchedBlob> {
    const { signal } = opts;
    const release = flight.attach();
    let outcome;
    let range;
    try {
      outcome = await untilAborted(flight.ready, signal);
      const size = flight.knownSize;
      if (outcome === 'spool' && size !== undefined) range = opts.select?.(size);
    } catch (err) {
      release();
      throw err;
    }
    if (outcome === 'spool') return { stream: flight.reader(signal, release, range), size: flight.knownSize, source: 'upstream', range };
    release();
    const stored = await this.fromStorage(flight.repository, flight.digest, opts);
    // Linked a moment ago: gone again only if it was deleted (an operator's DELETE) meanwhile.
    if (!stored) throw new BlobFetchError('storage-failed', `${flight.digest.value} disappeared from storage as it was linked`);
    return stored;
  }

  private async fromStorage(repository: string, digest: Digest, { signal, select }: GetOptions): Promise<FetchedBlob | null> {
    let info;
    try {
      info = await this.opts.blobs.stat(repository, digest);
    } catch (err) {
      if (isDomainError(err, 'blob-unknown')) return null;
      throw err;
    }
    const range = select?.(info.size);
    const stream = await this.opts.blobs.open(info.canonical, range, signal);
    this.observer.cacheHit?.(repository, digest, info.size);
    return { stream, size: info.size, source: 'storage', range };
  }
}

/** `promise`, or the signal's reason if it aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
