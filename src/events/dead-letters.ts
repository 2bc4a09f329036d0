import type { StorageDriver } from '../../storage-drivers/types';
import type { EndpointConfig } from '../config/notifications-schema';
import { listNames } from '../oci/links';
import { paths } from '../oci/paths';

/** Why a segment was set aside, in its marker, for the operator who finds it. */
export interface DeadLetter {
  status: number;
  attempts: number;
  error: string;
  at: string;
}

/**
 * `maxattempts`: counts the receiver's refusals of one segment in a row and, at the limit, sets the
 * segment aside for that endpoint with a marker beside the delivered ones. The segment itself stays
 * in storage (collection keeps every segment some endpoint lacks), so nothing is lost: removing the
 * marker makes the deliverer send it again. Counted in this process's memory: a restart starts over.
 */
export class DeadLetters {
  private segment?: string;
  private refusals = 0;

  constructor(
    private readonly driver: StorageDriver,
    private readonly endpoint: EndpointConfig,
  ) {}

  /** The segments set aside for this endpoint. */
  list(): Promise<string[]> {
    return listNames(this.driver, paths.eventsDeadLettered(this.endpoint.name));
  }

  /** A refusal of `segment`: true once it has been set aside. */
  async refused(segment: string, status: number, error: string): Promise<boolean> {
    if (this.endpoint.maxattempts === 0) return false;
    if (segment !== this.segment) {
      this.segment = segment;
      this.refusals = 0;
    }
    this.refusals += 1;
    if (this.refusals < this.endpoint.maxattempts) return false;
    const letter: DeadLetter = { status, attempts: this.refusals, error, at: new Date().toISOString() };
    await this.driver.putContent(paths.eventDeadLettered(this.endpoint.name, segment), Buffer.from(`${JSON.stringify(letter)}\n`));
    this.segment = undefined;
    return true;
  }
}
