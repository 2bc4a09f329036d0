import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { EndpointConfig } from '../config/notifications-schema';
import { deleteIfExists, listNames } from '../oci/links';
import { paths } from '../oci/paths';
import { DeadLetters } from './dead-letters';
import { EndpointHealth, type HealthObserver } from './endpoint-health';
import { EndpointLease } from './endpoint-lease';
import { endpointFilter } from './filter';
import { listSegments, readSegment, segmentEvents, segmentTime } from './journal';
import type { RegistryEvent } from './event';
import { ReceiverRefused } from './sender';

/** Events in one POST at most. A segment sent in several is sent again whole if any of them fails. */
export const MAX_ENVELOPE_EVENTS = 100;

/** The least time between two removals of delivered segments while deliveries succeed. */
const COLLECT_EVERY_MS = 1_000;

/** The pause between passes while new segments keep coming: the most a busy registry adds to delivery latency. */
const PASS_GAP_MS = 100;

/** What the deliverer tells metrics. */
export interface DeliveryObserver extends HealthObserver {
  delivered(endpoint: string, events: number): void;
  failed(endpoint: string): void;
  /** After each pass of the lease holder: what is left for the endpoint, and how old the oldest of it is. */
  pending(endpoint: string, events: number, oldestAgeSeconds: number): void;
  dropped(events: number): void;
  /** After each pass of the lease holder: the events set aside for the endpoint (maxattempts). */
  deadLettered(endpoint: string, events: number): void;
}

const NO_OBSERVER: DeliveryObserver = { delivered() {}, failed() {}, pending() {}, dropped() {}, failing() {}, deadLettered() {} };

export interface DelivererOptions {
  driver: StorageDriver;
  /** The enabled endpoints; a segment is removed once every one of them has it. */
  endpoints: EndpointConfig[];
  logger: Logger;
  send: (endpoint: EndpointConfig, events: RegistryEvent[]) => Promise<void>;
  /** How often an idle endpoint looks for segments nobody told it about (other processes', earlier runs'). */
  pollMs: number;
  /** With `dropoldest`, the oldest segments beyond `maxevents` undelivered events are removed. */
  backlog: { maxevents: number; full: 'dropoldest' | 'refuse' };
  /** Told the backlog each time the segments are listed (EventJournal.beginListing). */
  beginListing: () => (events: number) => void;
  /** A segment's events when this process wrote it recently (EventJournal.recentSegment), else undefined. */
  recentSegment?: (segment: string) => RegistryEvent[] | undefined;
  /** Told when a segment has been delivered everywhere or removed (EventJournal.forget). */
  forget?: (segment: string) => void;
  /** This process, in the endpoint leases. */
  owner: string;
  /** How long a silent deliverer keeps its endpoints before another process takes them over. */
  takeoverMs: number;
  observer?: DeliveryObserver;
}

/**
 * Delivers the journal's segments to each endpoint, oldest first, one segment at a time: a segment
 * that fails is retried (at once up to `threshold` failures in a row, then with the wait doubling
 * from `backoff` to `maxbackoff`: EndpointHealth) before any later one is tried, so events of one
 * repository arrive in the order they were recorded; only `maxattempts` refusals set one aside
 * (DeadLetters). Each endpoint's progress is an empty marker per delivered segment, written after
 * the receiver accepted it: a crash between the two sends the segment again (at least once, never
 * zero times).
 */
export class EventDeliverer {
  private stopped = false;
  private readonly idle = new Set<() => void>();
  private readonly sleeping = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private collecting = false;
  private collectedAt = -Infinity;
  /** Counts wake() calls, so that one arriving while an endpoint is busy is not slept through. */
  private wakes = 0;

  private readonly observer: DeliveryObserver;

  constructor(private readonly o: DelivererOptions) {
    this.observer = o.observer ?? NO_OBSERVER;
  }

  start(): void {
    this.loops = this.o.endpoints.map((e) => this.run(e));
  }

  /** New segments were written: idle endpoints look at once instead of at their next poll. */
  wake(): void {
    this.wakes += 1;
    for (const w of [...this.idle]) w();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of [...this.idle, ...this.sleeping]) w();
    await Promise.all(this.loops);
  }

  private async run(endpoint: EndpointConfig): Promise<void> {
    const wanted = endpointFilter(endpoint);
    const lease = new EndpointLease(this.o.driver, endpoint.name, this.o.owner, this.o.takeoverMs);
    const health = new EndpointHealth(endpoint, this.o.logger, this.observer);
    const dead = new DeadLetters(this.o.driver, endpoint);
    while (!this.stopped) {
      let failed: boolean;
      const wakes = this.wakes;
      if (!(await this.holds(lease))) {
        await this.wait(this.o.pollMs, this.idle);
        continue;
      }
      try {
        failed = !(await this.deliverPending(endpoint, wanted, lease, dead));
      } catch (err) {
        this.o.logger.warn({ err, endpoint: endpoint.name }, 'event delivery failed; retrying');
        failed = true;
      }
      // Also while the endpoint fails: that is when the backlog grows. Not after every pass of a busy
      // endpoint: each costs two listings, and a segment left a second longer costs nothing.
      if (failed || performance.now() - this.collectedAt >= COLLECT_EVERY_MS) {
        this.collectedAt = performance.now();
        await this.collect().catch((err: unknown) => this.o.logger.warn({ err }, 'removing delivered event segments failed'));
      }
      if (failed) {
        const wait = health.failed();
        if (wait > 0) await this.backOff(wait, lease);
        continue;
      }
      health.succeeded();
      if (wakes === this.wakes) await this.wait(this.o.pollMs, this.idle);
      // Woken during the pass (a busy registry): let segments gather, so that the next pass sends
      // many at once instead of paying its listings and a POST for each request's event.
      else await this.wait(PASS_GAP_MS, this.sleeping);
    }
    await lease.release().catch((err: unknown) => this.o.logger.warn({ err, endpoint: endpoint.name }, 'releasing the event delivery lease failed'));
  }

  private async holds(lease: EndpointLease): Promise<boolean> {
    try {
      return await lease.hold();
    } catch (err) {
      this.o.logger.warn({ err }, 'checking the event delivery lease failed');
      return false;
    }
  }

  /** Waits `ms`, renewing the lease meanwhile, so a long backoff does not hand the endpoint over. */
  private async backOff(ms: number, lease: EndpointLease): Promise<void> {
    const until = Date.now() + ms;
    for (let left = ms; left > 0 && !this.stopped; left = until - Date.now()) {
      await this.wait(Math.min(left, this.o.takeoverMs / 4), this.sleeping);
      if (!(await this.holds(lease))) return;
    }
  }

  /** Sends every segment this endpoint lacks, in order; false at the first that fails (and is not set aside). */
  private async deliverPending(endpoint: EndpointConfig, wanted: (e: RegistryEvent) => boolean, lease: EndpointLease, dead: DeadLetters): Promise<boolean> {
    const done = new Set(await listNames(this.o.driver, paths.eventsDelivered(endpoint.name)));
    const aside = new Set(await dead.list());
    const segments = await listSegments(this.o.driver);
    const reportAside = () => this.observer.deadLettered(endpoint.name, segments.filter((s) => aside.has(s) && !done.has(s)).reduce((n, s) => n + segmentEvents(s), 0));
    reportAside();
    const todo = segments.filter((s) => !done.has(s) && !aside.has(s));
    next: for (const [n, segment] of todo.entries()) {
      if (this.stopped) return true;
      this.reportPending(endpoint, todo.slice(n));
      // Another process took the endpoint over (this one stalled): it delivers from here.
      if (!(await lease.hold())) return true;
      const events = this.o.recentSegment?.(segment) ?? (await readSegment(this.o.driver, segment));
      if (!events) continue;
      const selected = events.filter(wanted);
      // A burst makes one large segment; receivers get it in envelopes of a bounded size.
      for (let i = 0; i < selected.length; i += MAX_ENVELOPE_EVENTS) {
        const envelope = selected.slice(i, i + MAX_ENVELOPE_EVENTS);
        try {
          await this.o.send(endpoint, envelope);
        } catch (err) {
          this.observer.failed(endpoint.name);
          if (err instanceof ReceiverRefused && (await dead.refused(segment, err.status, err.message))) {
            this.o.logger.error(
              { endpoint: endpoint.name, segment, status: err.status, attempts: endpoint.maxattempts, marker: paths.eventDeadLettered(endpoint.name, segment) },
              'the receiver refused these events maxattempts times in a row: set aside in storage (remove the marker to send them again); later events go on',
            );
            aside.add(segment);
            reportAside();
            continue next;
          }
          this.o.logger.warn({ err, endpoint: endpoint.name, segment }, 'event delivery failed; retrying');
          return false;
        }
        this.observer.delivered(endpoint.name, envelope.length);
      }
      await this.delivered(endpoint, segment);
    }
    this.reportPending(endpoint, []);
    return true;
  }

  /**
   * With one endpoint, a delivered segment is removed at once: nobody else needs it, and that is one
   * storage call instead of a marker now and two removals at the next collection. With several, a
   * marker records this endpoint's progress; it is not synced, since a marker lost to a power cut
   * only sends its segment again, which at-least-once allows.
   */
  private async delivered(endpoint: EndpointConfig, segment: string): Promise<void> {
    if (this.o.endpoints.length === 1) {
      await deleteIfExists(this.o.driver, paths.eventSegment(segment));
      this.o.forget?.(segment);
      return;
    }
    await this.o.driver.putContent(paths.eventDelivered(endpoint.name, segment), new Uint8Array(0), { durable: false });
  }

  private reportPending(endpoint: EndpointConfig, segments: string[]): void {
    const events = segments.reduce((n, s) => n + segmentEvents(s), 0);
    const age = segments.length > 0 ? Math.max(0, (Date.now() - segmentTime(segments[0])) / 1000) : 0;
    this.observer.pending(endpoint.name, events, age);
  }

  /**
   * Removes segments every endpoint has, then their markers. Markers (delivered, set aside) are
   * listed before segments: a marker is written only once its segment exists, so one whose segment
   * is not listed after it belongs to a segment removed earlier (by a collection that died before
   * removing its markers, or a segment dropped from a full backlog). A segment set aside for an
   * endpoint lacks its delivered marker, so it stays.
   */
  private async collect(): Promise<void> {
    if (this.collecting) return;
    this.collecting = true;
    try {
      const done = await Promise.all(this.o.endpoints.map(async (e) => new Set(await listNames(this.o.driver, paths.eventsDelivered(e.name)))));
      const aside = await Promise.all(this.o.endpoints.map((e) => listNames(this.o.driver, paths.eventsDeadLettered(e.name))));
      const listed = this.o.beginListing();
      const segments = new Set(await listSegments(this.o.driver));
      const undelivered: string[] = [];
      for (const segment of segments) {
        if (!done.every((d) => d.has(segment))) {
          undelivered.push(segment);
          continue;
        }
        await deleteIfExists(this.o.driver, paths.eventSegment(segment));
        this.o.forget?.(segment);
        for (const e of this.o.endpoints) await deleteIfExists(this.o.driver, paths.eventDelivered(e.name, segment));
      }
      listed(await this.dropBeyondBound(undelivered));
      for (const [i, e] of this.o.endpoints.entries()) {
        for (const segment of done[i]) if (!segments.has(segment)) await deleteIfExists(this.o.driver, paths.eventDelivered(e.name, segment));
        // Set aside for a segment that is gone since (delivered everywhere, or dropped from a full backlog).
        for (const segment of aside[i]) if (!segments.has(segment)) await deleteIfExists(this.o.driver, paths.eventDeadLettered(e.name, segment));
      }
    } finally {
      this.collecting = false;
    }
  }

  /** The backlog left once `dropoldest` has removed what exceeds the bound, oldest first. */
  private async dropBeyondBound(undelivered: string[]): Promise<number> {
    let pending = undelivered.reduce((n, s) => n + segmentEvents(s), 0);
    if (this.o.backlog.full !== 'dropoldest') return pending;
    let dropped = 0;
    for (const segment of undelivered) {
      if (pending <= this.o.backlog.maxevents) break;
      await deleteIfExists(this.o.driver, paths.eventSegment(segment));
      this.o.forget?.(segment);
      pending -= segmentEvents(segment);
      dropped += segmentEvents(segment);
    }
    if (dropped > 0) this.observer.dropped(dropped);
    if (dropped > 0) this.o.logger.warn({ dropped, maxevents: this.o.backlog.maxevents }, 'notification backlog full: the oldest events were dropped');
    return pending;
  }

  private wait(ms: number, set: Set<() => void>): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }
}
