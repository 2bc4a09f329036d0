import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './sha256-messages';

/**
 * Bytes an upload may have handed to the worker and not yet seen hashed. hash-wasm's sha256 is
 * about 5x slower than node:crypto's, so on a fast store the worker is what paces the upload; the
 * bound keeps what waits for it small.
 */
const MAX_BEHIND = 16 * 1024 * 1024;

interface Pending {
  resolve(value: FromWorker): void;
  reject(err: Error): void;
}

/**
 * hash-wasm's sha256, whose state can be saved and continued in another process, computed in one
 * worker thread shared by all uploads: the request's thread only copies each chunk over, so
 * hashing overlaps with writing to storage instead of adding to it.
 */
export class Sha256Worker {
  private worker: Worker | undefined;
  private nextId = 1;
  private nextSeq = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly hashers = new Map<number, RemoteSha256>();

  /**
   * `spawn` starts the thread: at the first hash, and again at the next one after a thread died
   * (its hashes fail, and their uploads re-read at the commit).
   */
  constructor(private readonly spawn: () => Worker = spawnSha256Thread) {}

  /** A new hash, or the continuation of a saved state (which the caller has checked). */
  create(saved?: Uint8Array): RemoteSha256 {
    const id = this.nextId++;
    const hasher = new RemoteSha256(this, id);
    this.hashers.set(id, hasher);
    this.post({ op: 'start', id, ...(saved && { saved }) });
    this.worker?.ref();
    return hasher;
  }

  /** Stops the thread; hashes in progress fail (their uploads re-read at the commit). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  /** @internal */
  post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.start().postMessage(message, transfer);
  }

  /** @internal */
  request(message: ToWorker & { seq: number }): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      this.pending.set(message.seq, { resolve, reject });
      this.post(message);
    });
  }

  /** @internal */
  seq(): number {
    return this.nextSeq++;
  }

  /** @internal */
  forget(id: number): void {
    this.hashers.delete(id);
    this.unrefIfIdle();
  }

  /** Idle, the thread must not keep a process alive that is otherwise done; busy, it must. */
  private unrefIfIdle(): void {
    if (this.hashers.size === 0 && this.pending.size === 0) this.worker?.unref();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = this.spawn();
    worker.on('message', (m: FromWorker) => this.receive(m));
    // A dying thread reports an error, then its exit: by then a new thread may hash other uploads.
    let dead = false;
    const fail = (err: Error) => {
      if (dead) return;
      dead = true;
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      for (const h of this.hashers.values()) h.fail(err);
      this.hashers.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`sha256 worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private receive(m: FromWorker): void {
    if ('seq' in m) {
      const p = this.pending.get(m.seq);
      this.pending.delete(m.seq);
      if ('error' in m) p?.reject(new Error(`sha256 worker: ${m.error}`));
      else p?.resolve(m);
      this.unrefIfIdle();
      return;
    }
    const hasher = this.hashers.get(m.id);
    if ('failed' in m) hasher?.fail(new Error(`sha256 worker: ${m.failed}`));
    else hasher?.hashed(m.hashed);
  }
}

export function spawnSha256Thread(): Worker {
  // Compiled beside this file (dist/src/oci/).
  return new Worker(path.join(__dirname, 'sha256-worker.js'));
}

/** One upload's sha256 in the worker. Once it failed, every later call rejects. */
export class RemoteSha256 {
  private behind = 0;
  private failure: Error | undefined;
  private waiter: { resolve(): void; reject(err: Error): void } | undefined;

  constructor(
    private readonly owner: Sha256Worker,
    private readonly id: number,
  ) {}

  /**
   * Hands a copy of `chunk` to the worker (the original goes on to storage); resolves at once
   * unless the worker has fallen more than MAX_BEHIND behind, then once it has caught up half-way.
   */
  async update(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const copy = new Uint8Array(chunk).buffer;
    this.behind += copy.byteLength;
    this.owner.post({ op: 'update', id: this.id, data: copy }, [copy]);
    if (this.behind <= MAX_BEHIND) return;
    await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The state after every byte given so far. */
  async save(): Promise<Uint8Array> {
    if (this.failure) throw this.failure;
    const reply = await this.owner.request({ op: 'save', id: this.id, seq: this.owner.seq() });
    if (!('state' in reply)) throw new Error('sha256 worker: no state');
    return reply.state;
  }

  /** The digest of every byte given so far; ends this hash. */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    const replied = this.owner.request({ op: 'digest', id: this.id, seq: this.owner.seq() });
    // After the request: the thread stays referenced until it answers.
    this.owner.forget(this.id);
    const reply = await replied;
    if (!('hex' in reply)) throw new Error('sha256 worker: no digest');
    return reply.hex;
  }

  /** Frees the worker's side when the hash is no longer wanted. */
  drop(): void {
    if (!this.failure) this.owner.post({ op: 'drop', id: this.id });
    this.owner.forget(this.id);
    // An update waiting for the worker (its upload failed meanwhile) must not wait forever.
    this.fail(new Error('sha256 hash dropped'));
  }

  /** @internal */
  hashed(n: number): void {
    this.behind -= n;
    if (this.waiter && this.behind <= MAX_BEHIND / 2) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }

  /** @internal */
  fail(err: Error): void {
    this.failure ??= err;
    this.waiter?.reject(err);
    this.waiter = undefined;
  }
}
