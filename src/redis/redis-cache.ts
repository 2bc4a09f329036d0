import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Codec, Forget, ManifestBody, SharedCache, Table } from '../oci/read-cache';
import { Breaker, type BreakerObserver } from './breaker';
import { within } from './deadline';

/** The commands used, as node-redis's client offers them (a narrow view keeps tests and types simple). */
export interface RedisCommands {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, opts: { expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  mGet(keys: string[]): Promise<Array<string | null>>;
  eval(script: string, opts: { keys: string[]; arguments: string[] }): Promise<unknown>;
  multi(): RedisMulti;
  ping(): Promise<unknown>;
}
export interface RedisMulti {
  incr(key: string): RedisMulti;
  set(key: string, value: string, opts: { expiration: { type: 'PX'; value: number } }): RedisMulti;
  del(key: string): RedisMulti;
  exec(): Promise<unknown>;
}

export interface RedisCacheObserver extends BreakerObserver {
  /** A read answered from Redis (hit) or loaded from storage (miss), by table. */
  lookup(table: Table | 'bodies', hit: boolean): void;
}

export interface RedisCacheOptions {
  /** Expiry of every entry: the bound on staleness after a write that could not reach Redis. */
  ttlMs: number;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  /** Larger manifest bodies are not stored in Redis (each process still keeps its own). */
  maxBodyBytes: number;
  retryMs?: number;
  logger: Logger;
  observer?: RedisCacheObserver;
  /** The last error of the connection while it is down (see Breaker). */
  connectionError?: () => unknown;
  now?: () => number;
}

const PREFIX = 'berth:';
/** Bumped by a write that may have changed anything (a garbage collection): every entry goes. */
export const GENERATION = `${PREFIX}generation`;

/**
 * Stores `value` (tagged with the generation) only if neither the entry's version nor the
 * generation moved since the reader looked, i.e. no write to it happened while it read storage.
 */
const FILL = `
local version = redis.call('GET', KEYS[2]) or ''
local generation = redis.call('GET', KEYS[3]) or ''
if version == ARGV[1] and generation == ARGV[2] then
  redis.call('SET', KEYS[1], generation .. '|' .. ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

/**
 * The cache every replica and worker shares (docs/architecture.md, "Shared cache (Redis)"). A write
 * gives the entry a new random version and deletes it in one transaction, after storage has it and before it is
 * acknowledged; a reader notes the version with the value (one MGET) and, on a miss, fills the
 * entry from storage only if the version is still the one it noted, so a fill never overwrites a
 * newer write. Versions outlive entries (twice the ttl), and a fill whose load took longer than the
 * ttl is dropped.
 */
export class RedisCache implements SharedCache {
  private readonly breaker: Breaker;
  /** An invalidation did not reach Redis: everything is dropped before Redis is used again. */
  private missedWrite = false;
  private readonly now: () => number;

  constructor(
    private readonly client: RedisCommands,
    private readonly opts: RedisCacheOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.breaker = new Breaker({
      logger: opts.logger,
      retryMs: opts.retryMs ?? 1000,
      observer: opts.observer,
      connectionError: opts.connectionError,
      probe: async () => {
        await within(this.opts.writeTimeoutMs, this.client.ping());
      },
      recover: async () => {
        if (!this.missedWrite) return;
        await within(this.opts.writeTimeoutMs, this.client.multi().incr(GENERATION).exec());
        this.missedWrite = false;
      },
    });
  }

  start(): void {
    this.breaker.start();
  }

  close(): void {
    this.breaker.close();
  }

  /** up, down or starting. */
  get status(): string {
    return this.breaker.status;
  }

  async read<V>(table: Table, key: string, codec: Codec<V>, load: () => Promise<V>): Promise<V> {
    if (!this.breaker.usable) return load();
    const keys = [`${PREFIX}${table}:${key}`, `${PREFIX}${table}:${key}:v`, GENERATION];
    let found: Array<string | null>;
    try {
      found = await within(this.opts.readTimeoutMs, this.client.mGet(keys));
    } catch (err) {
      this.breaker.failed(err);
      return load();
    }
    const [entry, version, generation] = [found[0], found[1] ?? '', found[2] ?? ''];
    const hit = entry === null ? undefined : decoded(entry, generation, codec);
    this.opts.observer?.lookup(table, hit !== undefined);
    if (hit !== undefined) return hit;
    const started = this.now();
    const value = await load();
    if (this.now() - started < this.opts.ttlMs)
      // Not awaited: the answer does not depend on it, and a fill that fails only costs a later miss.
      within(this.opts.writeTimeoutMs, this.client.eval(FILL, { keys, arguments: [version, generation, codec.encode(value), String(this.opts.ttlMs)] })).catch(
        (err: unknown) => this.breaker.failed(err),
      );
    return value;
  }

  /**
   * Bodies are content-addressed, so no version is needed: what a digest names never changes. They
   * are stored as the media type, a newline and the base64 of the bytes (kept exact).
   */
  async body(digest: string, load: () => Promise<ManifestBody>): Promise<ManifestBody> {
    if (!this.breaker.usable) return load();
    const key = `${PREFIX}body:${digest}`;
    let found: string | null;
    try {
      found = await within(this.opts.readTimeoutMs, this.client.get(key));
    } catch (err) {
      this.breaker.failed(err);
      return load();
    }
    const newline = found?.indexOf('\n') ?? -1;
    if (found && newline >= 0) {
      this.opts.observer?.lookup('bodies', true);
      return { mediaType: found.slice(0, newline), bytes: Buffer.from(found.slice(newline + 1), 'base64') };
    }
    this.opts.observer?.lookup('bodies', false);
    const body = await load();
    if (body.bytes.length <= this.opts.maxBodyBytes)
      within(this.opts.writeTimeoutMs, this.client.set(key, `${body.mediaType}\n${body.bytes.toString('base64')}`, { expiration: { type: 'PX', value: this.opts.ttlMs } })).catch(
        (err: unknown) => this.breaker.failed(err),
      );
    return body;
  }

  /** Makes what a write changed unreadable in Redis; resolves when Redis confirmed it, or it is down. */
  async forget(entries: readonly Forget[]): Promise<void> {
    if (entries.length === 0) return;
    if (!this.breaker.usable) {
      this.missedWrite = true;
      return;
    }
    const multi = this.client.multi();
    for (const e of entries) {
      if (e.table === '*') {
        multi.incr(GENERATION);
        continue;
      }
      const entry = `${PREFIX}${e.table}:${e.key}`;
      // A fresh random version, not a counter: a counter restarts at 1 once its key has expired, and a
      // reader that noted 1 just before that expiry would then take a later write for the one it saw.
      multi.set(`${entry}:v`, randomBytes(12).toString('base64url'), { expiration: { type: 'PX', value: 2 * this.opts.ttlMs } }).del(entry);
    }
    try {
      await within(this.opts.writeTimeoutMs, multi.exec());
    } catch (err) {
      // The write stands in storage; readers elsewhere may see the old fact until its expiry.
      this.missedWrite = true;
      this.breaker.failed(err);
    }
  }
}

/**
 * The value of an entry of the current generation; undefined for an older generation or for one
 * that does not decode (written by something else: a miss, which the fill then replaces).
 */
function decoded<V>(entry: string, generation: string, codec: Codec<V>): V | undefined {
  const bar = entry.indexOf('|');
  if (bar < 0 || entry.slice(0, bar) !== generation) return undefined;
  try {
    return codec.decode(entry.slice(bar + 1));
  } catch {
    return undefined;
  }
}
