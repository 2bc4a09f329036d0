import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { EndpointConfig } from '../config/notifications-schema';
import { deleteIfExists, listNames } from '../oci/links';
import { paths } from '../oci/paths';
import { endpointFilter } from './filter';
import { listSegments, readSegment } from './journal';
import type { RegistryEvent } from './event';

/** Events in one POST at most. A segment sent in several is sent again whole if any of them fails. */
export const MAX_ENVELOPE_EVENTS = 100;

export interface DelivererOptions {
  driver: StorageDriver;
  /** The enabled endpoints; a segment is removed once every one of them has it. */
  endpoints: EndpointConfig[];
  logger: Logger;
  send: (endpoint: EndpointConfig, events: RegistryEvent[]) => Promise<void>;
  /** How often an idle endpoint looks for segments nobody told it about (other processes', earlier runs'). */
  pollMs: number;
}

/**
 * Delivers the journal's segments to each endpoint, oldest first, one segment at a time: a segment
 * that fails is retried, with the wait doubling from `backoff` to `maxbackoff`, before any later one
 * is tried, so events of one repository arrive in the order they were recorded. Each endpoint's
 * progress is an empty marker per delivered segment, written after the receiver accepted it: a crash
 * between the two sends the segment again (at least once, never zero times).
 */
export class EventDeliverer {
  private stopped = false;
  private readonly idle = new Set<() => void>();
  private readonly sleeping = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private collecting = false;
  /** Counts wake() calls, so that one arriving while an endpoint is busy is not slept through. */
  private wakes = 0;

  constructor(private readonly o: DelivererOptions) {}

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
    let backoff = endpoint.backoff;
    while (!this.stopped) {
      let failed: boolean;
      const wakes = this.wakes;
      try {
        failed = !(await this.deliverPending(endpoint, wanted));
      } catch (err) {
        this.o.logger.warn({ err, endpoint: endpoint.name }, 'event delivery failed; retrying');
        failed = true;
      }
      if (failed) {
        await this.wait(backoff, this.sleeping);
        backoff = Math.min(backoff * 2, Math.max(endpoint.maxbackoff, endpoint.backoff));
        continue;
      }
      backoff = endpoint.backoff;
      await this.collect().catch((err: unknown) => this.o.logger.warn({ err }, 'removing delivered event segments failed'));
      if (wakes === this.wakes) await this.wait(this.o.pollMs, this.idle);
    }
  }

  /** Sends every segment this endpoint lacks, in order; false at the first that fails. */
  private async deliverPending(endpoint: EndpointConfig, wanted: (e: RegistryEvent) => boolean): Promise<boolean> {
    const done = new Set(await listNames(this.o.driver, paths.eventsDelivered(endpoint.name)));
    for (const segment of await listSegments(this.o.driver)) {
      if (this.stopped) return true;
      if (done.has(segment)) continue;
      const events = await readSegment(this.o.driver, segment);
      if (!events) continue;
      const selected = events.filter(wanted);
      // A burst makes one large segment; receivers get it in envelopes of a bounded size.
      for (let i = 0; i < selected.length; i += MAX_ENVELOPE_EVENTS) {
        try {
          await this.o.send(endpoint, selected.slice(i, i + MAX_ENVELOPE_EVENTS));
        } catch (err) {
          this.o.logger.warn({ err, endpoint: endpoint.name, segment }, 'event delivery failed; retrying');
          return false;
        }
      }
      await this.o.driver.putContent(paths.eventDelivered(endpoint.name, segment), new Uint8Array(0));
    }
    return true;
  }

  /**
   * Removes segments every endpoint has, then their markers. Markers are listed before segments: a
   * marker is written only once its segment exists, so one whose segment is not listed after it
   * belongs to a segment removed earlier (by a collection that died before removing its markers).
   */
  private async collect(): Promise<void> {
    if (this.collecting) return;
    this.collecting = true;
    try {
      const done = await Promise.all(this.o.endpoints.map(async (e) => new Set(await listNames(this.o.driver, paths.eventsDelivered(e.name)))));
      const segments = new Set(await listSegments(this.o.driver));
      for (const segment of segments) {
        if (!done.every((d) => d.has(segment))) continue;
        await deleteIfExists(this.o.driver, paths.eventSegment(segment));
        for (const e of this.o.endpoints) await deleteIfExists(this.o.driver, paths.eventDelivered(e.name, segment));
      }
      for (const [i, e] of this.o.endpoints.entries())
        for (const segment of done[i]) if (!segments.has(segment)) await deleteIfExists(this.o.driver, paths.eventDelivered(e.name, segment));
    } finally {
      this.collecting = false;
    }
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
