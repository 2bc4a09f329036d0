import type { StorageDriver } from '../../storage-drivers/types';
import { DomainError } from '../oci/errors';
import { isNotFound } from '../../storage-drivers/errors';
import { listNames } from '../oci/links';
import { paths } from '../oci/paths';
import type { RegistryEvent } from './event';

/** Digits of a segment's timestamp and sequence number, so that lexical order is numeric order. */
const TIME_DIGITS = 15;
const SEQ_DIGITS = 10;
/** Segments whose events are kept in memory for delivery (each a batch of one or more events). */
const RECENT_SEGMENTS = 1_000;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The durable record of events not yet delivered everywhere. Requests hand their events to
 * `append`, which resolves once they are in storage: the request is acknowledged only then. Appends
 * that arrive while a write is in flight share the next write, so concurrent requests cost one
 * storage write between them, not one each. Each write is a new segment created with
 * `createExclusive`: readers never see it partly written, and nothing rewrites it.
 */
export class EventJournal {
  private pending: RegistryEvent[] = [];
  /** Whether any pending event must survive a machine crash, not only a Berth crash. */
  private pendingDurable = false;
  private waiters: Waiter[] = [];
  private writing = false;
  private seq = 0;
  private lastTime = 0;
  /** Events this process has stored; with `listed`, the backlog without listing storage per request. */
  private written = 0;
  private listed = { events: 0, written: 0 };
  /**
   * The events of segments this process wrote and nobody delivered yet, so that delivering them
   * costs no read: a segment never changes once created, so this copy is the stored one.
   */
  private readonly recent = new Map<string, RegistryEvent[]>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly instance: string,
    /** Told after each segment is written, so deliverers need not poll for it. */
    private readonly onWritten: () => void = () => {},
    /** With `refuse`, appends beyond this many undelivered events fail. */
    private readonly refuseBeyond = Infinity,
  ) {}

  /**
   * Undelivered events, as of the last listing plus what this process wrote since it began (an
   * estimate: other processes' writes show at the next listing, and one written during it counts twice).
   */
  get backlog(): number {
    return this.listed.events + this.written - this.listed.written;
  }

  /** Called before a listing of the segments, whose events `done` reports. */
  beginListing(): (events: number) => void {
    const written = this.written;
    return (events) => {
      this.listed = { events, written };
    };
  }

  /**
   * `durable: false` for events that need only survive Berth's own crash (pulls: nothing was
   * stored, and a power loss would lose at most the last seconds of them): their segment is written
   * but not synced, so a pull does not wait for the disk. A batch holding any durable event is synced.
   */
  append(events: RegistryEvent[], durable = true): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const pending = this.backlog + this.pending.length;
    if (pending + events.length > this.refuseBeyond)
      return Promise.reject(new DomainError('events-backlog-full', { pending }, 'too many events wait for delivery; retry later'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push(...events);
      this.pendingDurable ||= durable;
      this.waiters.push({ resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const waiters = this.waiters.splice(0);
      const durable = this.pendingDurable;
      this.pendingDurable = false;
      const name = this.nextName(batch.length);
      try {
        await this.driver.createExclusive(paths.eventSegment(name), encodeSegment(batch), { durable });
        this.remember(name, batch);
        this.written += batch.length;
        for (const w of waiters) w.resolve();
        this.onWritten();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.writing = false;
  }

  /** A segment's events if this process wrote it recently, without reading storage. */
  recentSegment(name: string): RegistryEvent[] | undefined {
    return this.recent.get(name);
  }

  /** The segment is delivered everywhere (or gone): its copy is no longer needed. */
  forget(name: string): void {
    this.recent.delete(name);
  }

  private remember(name: string, events: RegistryEvent[]): void {
    this.recent.set(name, events);
    // Bounded for a receiver that is down: beyond it, delivery reads the segment back from storage.
    for (const oldest of this.recent.keys()) {
      if (this.recent.size <= RECENT_SEGMENTS) break;
      this.recent.delete(oldest);
    }
  }

  /**
   * Time first, so that segments of several processes interleave in the order they were written;
   * the time never goes back within a process (a clock step), so this process's own segments stay
   * in order. The count of events last, so that a listing tells the backlog without reading.
   */
  private nextName(count: number): string {
    this.lastTime = Math.max(Date.now(), this.lastTime);
    this.seq += 1;
    return `${String(this.lastTime).padStart(TIME_DIGITS, '0')}-${this.instance}-${String(this.seq).padStart(SEQ_DIGITS, '0')}-${count}`;
  }
}

/** Segments in the order they were written. */
export function listSegments(driver: StorageDriver): Promise<string[]> {
  return listNames(driver, paths.eventSegments);
}

/** When a segment was written (ms since the epoch), from its name. */
export function segmentTime(name: string): number {
  return Number(name.slice(0, TIME_DIGITS));
}

/** How many events a segment holds, from its name. */
export function segmentEvents(name: string): number {
  const count = Number(name.slice(name.lastIndexOf('-') + 1));
  return Number.isSafeInteger(count) && count > 0 ? count : 1;
}

/** A segment's events, or undefined when it has been removed meanwhile. */
export async function readSegment(driver: StorageDriver, name: string): Promise<RegistryEvent[] | undefined> {
  let data: Buffer;
  try {
    data = await driver.getContent(paths.eventSegment(name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return data
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as RegistryEvent);
}

function encodeSegment(events: RegistryEvent[]): Buffer {
  return Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
}
