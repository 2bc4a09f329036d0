import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { listNames } from '../oci/links';
import { paths } from '../oci/paths';
import type { DeadLetter } from './dead-letters';
import { segmentEvents } from './journal';

/** A segment set aside for an endpoint, as `berth events` lists it. */
export interface SetAside {
  endpoint: string;
  segment: string;
  /** How many events the segment holds (all of them, before the endpoint's filters). */
  events: number;
  /** Why, from its marker; null when the marker is not readable JSON. */
  reason: DeadLetter | null;
  /** False when the segment itself is gone (removed by hand): retrying it then sends nothing. */
  stored: boolean;
}

/**
 * What an operator does with dead letters (src/events/dead-letters.ts) from the command line, on
 * the store, while the registry runs: the deliverer lists the markers at every pass, so a change
 * here takes effect at its next pass. Endpoints are the directories under the dead-letter root,
 * not the configuration's, so letters of an endpoint since renamed or removed are found too.
 */
export class DeadLetterAdmin {
  constructor(private readonly driver: StorageDriver) {}

  async list(endpoint?: string): Promise<SetAside[]> {
    const endpoints = endpoint === undefined ? await listNames(this.driver, paths.eventDeadLetterRoot) : [endpoint];
    const segments = new Set(await listNames(this.driver, paths.eventSegments));
    const out: SetAside[] = [];
    for (const name of endpoints.sort()) {
      for (const segment of (await listNames(this.driver, paths.eventsDeadLettered(name))).sort()) {
        out.push({ endpoint: name, segment, events: segmentEvents(segment), reason: await this.reason(name, segment), stored: segments.has(segment) });
      }
    }
    return out;
  }

  /** Removes the markers: the deliverer sends those events again (after what is newer, if it is going). */
  async retry(endpoint: string, segments: string[]): Promise<string[]> {
    const done: string[] = [];
    for (const segment of segments) if (await this.removeMarker(endpoint, segment)) done.push(segment);
    return done;
  }

  /**
   * Gives the events up for this endpoint: they count as delivered to it, so the journal's
   * collection may remove the segment once no other endpoint lacks it. The delivered marker is
   * written first: between the two steps the deliverer sees a delivered segment, never a pending one.
   */
  async discard(endpoint: string, segments: string[]): Promise<string[]> {
    const done: string[] = [];
    for (const segment of segments) {
      if (!(await this.exists(paths.eventDeadLettered(endpoint, segment)))) continue;
      await this.driver.putContent(paths.eventDelivered(endpoint, segment), new Uint8Array());
      if (await this.removeMarker(endpoint, segment)) done.push(segment);
    }
    return done;
  }

  private async reason(endpoint: string, segment: string): Promise<DeadLetter | null> {
    try {
      return JSON.parse((await this.driver.getContent(paths.eventDeadLettered(endpoint, segment))).toString('utf8')) as DeadLetter;
    } catch {
      return null;
    }
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await this.driver.stat(path);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private async removeMarker(endpoint: string, segment: string): Promise<boolean> {
    try {
      await this.driver.delete(paths.eventDeadLettered(endpoint, segment));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}
