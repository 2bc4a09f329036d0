import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest } from '../oci/digest';
import { paths } from '../oci/paths';

/** How often a process writes the pulls it served (ms). */
export const PULL_FLUSH_MS = 10_000;

const EMPTY = new Uint8Array(0);

/**
 * When each mirrored manifest was last pulled, for eviction (mirror/eviction.ts). A pull only marks
 * the manifest in memory; every interval the marked ones are written, one empty file each, without
 * a sync: the file's modification time, in the storage's clock, is the last pull (late by up to the
 * interval), and every replica sharing the storage writes the same files. A crash loses at most one
 * interval of records, which only makes eviction of those manifests earlier than it would have been.
 */
export class PullLog {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly driver: StorageDriver,
    private readonly logger: Logger,
    private readonly intervalMs = PULL_FLUSH_MS,
  ) {}

  record(repository: string, digest: string): void {
    this.pending.add(`${repository}@${digest}`);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  /** Writes what was pulled since the last flush; one that fails is kept for the next. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Set();
    for (const key of batch) {
      const at = key.lastIndexOf('@');
      try {
        await this.driver.putContent(paths.mirrorPull(key.slice(0, at), parseDigest(key.slice(at + 1))), EMPTY, { durable: false });
      } catch (err) {
        this.pending.add(key);
        this.logger.warn({ err, manifest: key }, 'mirror: recording a pull failed; retried at the next flush');
      }
    }
  }
}

/** The recorded last pulls of a repository's manifests (digest → ms since the epoch, storage clock). */
export async function readPulls(driver: StorageDriver, repository: string): Promise<Map<string, number>> {
  const root = paths.mirrorPulls(repository);
  const pulls = new Map<string, number>();
  try {
    for await (const info of driver.walk(root)) {
      const parts = info.path.slice(root.length + 1).split('/');
      if (!info.isDir && parts.length === 2) pulls.set(`${parts[0]}:${parts[1]}`, info.modTime.getTime());
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return pulls;
}
