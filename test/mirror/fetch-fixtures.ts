import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest, type Digest } from '../../src/oci/digest';
import { createRegistry, type Registry } from '../../src/oci/registry';
import { sizeOf } from '../../src/oci/links';
import { paths } from '../../src/oci/paths';
import { assertStoreConsistent } from '../helpers/store-check';
import { BlobFetcher, type BlobFetcherOptions } from '../../src/mirror/blob-fetcher';
import type { UpstreamBlob } from '../../src/mirror/blob-flight';
import type { BlobFetchObserver } from '../../src/mirror/blob-fetch-observer';

export const REPO = 'docker.io/library/nginx';

export type DriverKind = 'memory' | 'filesystem';
export const DRIVER_KINDS: DriverKind[] = ['memory', 'filesystem'];

export function sha256(data: Uint8Array): Digest {
  return parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`);
}

export function blob(size: number): { data: Buffer; digest: Digest } {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

/** A registry store, a fetcher over it and the spool directory, all thrown away by `dispose`. */
export interface Setup {
  driver: StorageDriver;
  registry: Registry;
  fetcher: BlobFetcher;
  spool: string;
  /** Another process sharing the store: its own registry and fetcher. */
  replica(opts?: Partial<BlobFetcherOptions>): BlobFetcher;
  dispose(): Promise<void>;
}

export type SetupOptions = Partial<BlobFetcherOptions> & {
  /** What the fetchers' registries see of the driver (fault injection); checks use the driver itself. */
  wrap?: (d: StorageDriver) => StorageDriver;
};

export async function setup(kind: DriverKind, { wrap = (d) => d, ...opts }: SetupOptions = {}): Promise<Setup> {
  const spool = await mkdtemp(join(tmpdir(), 'berth-spool-test-'));
  const root = kind === 'filesystem' ? await mkdtemp(join(tmpdir(), 'berth-fetch-store-')) : undefined;
  const driver = root ? createFilesystemDriver({ rootDirectory: root }) : createMemoryDriver();
  const fetchers: BlobFetcher[] = [];
  const make = (o: Partial<BlobFetcherOptions>) => {
    const registry = createRegistry(wrap(driver), { secret: randomBytes(32) });
    const fetcher = new BlobFetcher({ blobs: registry.blobs, uploads: registry.uploads, spoolDirectory: spool, ...o });
    fetchers.push(fetcher);
    return { registry, fetcher };
  };
  const { registry, fetcher } = make(opts);
  return {
    driver,
    registry,
    fetcher,
    spool,
    replica: (o = {}) => make({ ...opts, ...o }).fetcher,
    async dispose() {
      for (const f of fetchers) await f.close();
      await rm(spool, { recursive: true, force: true });
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Runs `test` with a fresh setup (options as for `setup`), disposed of however it ends. */
export async function withSetup(kind: DriverKind, ...args: [test: TestBody] | [opts: SetupOptions, test: TestBody]): Promise<void> {
  const [opts, test] = args.length === 1 ? [{}, args[0]] : args;
  const s = await setup(kind, opts);
  try {
    await test(s);
  } finally {
    await s.dispose();
  }
}

type TestBody = (s: Setup) => Promise<void>;

/** Files left in the spool directory (the spool is unlinked as soon as it is opened: none). */
export async function spoolFiles(dir: string): Promise<string[]> {
  return readdir(dir);
}

/**
 * An upstream the test drives by hand: every open() gets a fresh stream that the test writes to
 * (`send`), ends or breaks; `opens` counts the requests.
 */
export class ManualUpstream {
  opens = 0;
  readonly signals: AbortSignal[] = [];
  readonly streams: PassThrough[] = [];
  private readonly waiting: Array<(s: PassThrough) => void> = [];

  constructor(private readonly size?: number) {}

  readonly open = async (signal: AbortSignal): Promise<UpstreamBlob> => {
    this.opens++;
    this.signals.push(signal);
    const stream = new PassThrough();
    this.streams.push(stream);
    for (const w of this.waiting.splice(0)) w(stream);
    return { stream, size: this.size };
  };

  /** The stream of the latest open(), once there is one. */
  async current(): Promise<PassThrough> {
    const s = this.streams.at(-1);
    return s ?? new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Writes `data` in chunks, honouring backpressure. */
  async send(data: Buffer, chunk = 64 * 1024): Promise<void> {
    const s = await this.current();
    for (let i = 0; i < data.length; i += chunk) {
      if (!s.write(data.subarray(i, i + chunk))) await new Promise((r) => s.once('drain', r));
    }
  }
}

/** An upstream that serves `data` whole, each time it is opened. */
export function servingUpstream(data: Buffer, opts: { size?: boolean } = {}) {
  const state = { opens: 0 };
  const open = async (): Promise<UpstreamBlob> => {
    state.opens++;
    const stream = new PassThrough();
    void (async () => {
      for (let i = 0; i < data.length; i += 64 * 1024)
        if (!stream.write(data.subarray(i, i + 64 * 1024))) await new Promise((r) => stream.once('drain', r));
      stream.end();
    })();
    return { stream, size: opts.size === false ? undefined : data.length };
  };
  return Object.assign(state, { open });
}

export interface Collected {
  bytes: Buffer;
  error?: Error;
  ended: boolean;
}

/** Reads a stream to its end or its error. */
export async function collect(stream: Readable): Promise<Collected> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of stream) chunks.push(c as Buffer);
    return { bytes: Buffer.concat(chunks), ended: true };
  } catch (err) {
    return { bytes: Buffer.concat(chunks), error: err as Error, ended: false };
  }
}

/** Resolves with the first chunk a stream yields, leaving the stream paused. */
export function firstChunk(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onReadable = () => {
      const c = stream.read() as Buffer | null;
      if (c === null) return;
      stream.off('readable', onReadable);
      stream.off('error', reject);
      resolve(c);
    };
    stream.on('readable', onReadable);
    stream.once('error', reject);
  });
}

/** A recording observer. */
export function recorder() {
  const log = { started: 0, completed: 0, failed: [] as string[], upstreamBytes: 0, servedBytes: 0, hits: 0 };
  const observer: BlobFetchObserver = {
    fetchStarted: () => void log.started++,
    fetchCompleted: () => void log.completed++,
    fetchFailed: (_r, _d, err) => void log.failed.push(err.message),
    upstreamBytes: (n) => void (log.upstreamBytes += n),
    servedBytes: (n) => void (log.servedBytes += n),
    cacheHit: () => void log.hits++,
  };
  return { log, observer };
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function cached(s: Setup, repo: string, digest: Digest): Promise<boolean> {
  return s.registry.blobs.stat(repo, digest).then(
    () => true,
    () => false,
  );
}

/** Neither linked in REPO nor stored, and `berth check --verify-digests` finds nothing wrong. */
export async function assertNothingCached(s: Setup, digest: Digest): Promise<void> {
  assert.equal(await cached(s, REPO, digest), false, 'the repository links the blob');
  assert.equal(await sizeOf(s.driver, paths.blobData(digest)), null, 'blob data was stored');
  await assertStoreConsistent(s.driver);
}

/** Holds every upload session's creation (its `startedat` marker) until `open`. */
export function sessionGate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  const gate = {
    held: 0,
    open: () => release(),
    wrap: (d: StorageDriver): StorageDriver => ({
      ...d,
      putContent: async (path, data, opts) => {
        if (path.endsWith('/startedat')) {
          gate.held++;
          await opened;
        }
        return d.putContent(path, data, opts);
      },
    }),
  };
  return gate;
}
