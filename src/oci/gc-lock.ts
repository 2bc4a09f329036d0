import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';

const LOCK = '/berth/gc/lock';

export class GcLockedError extends Error {
  override readonly name = 'GcLockedError';
}

interface Lease {
  owner: string;
  expires: number;
}

/**
 * One collector at a time across every process sharing the store: a lease object with an owner and
 * an expiry. The driver contract has no compare-and-swap, so the lease is written, then read back
 * after a settle delay; of two writers racing, only the one whose lease survived proceeds. A
 * collector that dies leaves a lease that expires by itself.
 */
export async function acquireGcLock(driver: StorageDriver, ttlMs: number, settleMs = 1000): Promise<() => Promise<void>> {
  const owner = `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`;
  const current = await readLease(driver);
  if (current && current.expires > Date.now()) throw new GcLockedError(`another garbage collection is running (${current.owner})`);
  await driver.putContent(LOCK, Buffer.from(JSON.stringify({ owner, expires: Date.now() + ttlMs } satisfies Lease)));
  await new Promise((r) => setTimeout(r, settleMs));
  const after = await readLease(driver);
  if (after?.owner !== owner) throw new GcLockedError(`another garbage collection started at the same time (${after?.owner ?? 'unknown'})`);
  return async () => {
    if ((await readLease(driver))?.owner === owner) await driver.delete(LOCK).catch(() => undefined);
  };
}

async function readLease(driver: StorageDriver): Promise<Lease | undefined> {
  try {
    return JSON.parse((await driver.getContent(LOCK)).toString('utf8')) as Lease;
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return undefined;
    throw err;
  }
}
