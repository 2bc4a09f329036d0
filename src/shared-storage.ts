import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageDriver } from '../storage-drivers/types';
import type { Config } from './config/schema';
import { isNotFound } from '../storage-drivers/errors';
import { paths } from './oci/paths';

/**
 * Detects a second Berth process on the same storage when no `http.secret` is configured. Without
 * a shared secret each process signs upload state with its own random key, so an upload that moves
 * between replicas would fail mid-push; refusing to start makes the misconfiguration visible at
 * once instead. Each secret-less process keeps a heartbeat file under `/berth/instances/` (outside
 * Distribution's layout); a fresh heartbeat from a live process other than this one means sharing.
 */
const HEARTBEAT_MS = 10_000;
/** A heartbeat older than this belongs to a process that is gone. */
const FRESH_MS = 3 * HEARTBEAT_MS;

interface Instance {
  host: string;
  pid: number;
  startedAt: string;
}

export class SharedStorageError extends Error {
  override readonly name = 'SharedStorageError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a heartbeat names another live process (not this one, nor a dead one on this host). */
function isOther(other: Instance, self: Instance): boolean {
  if (other.host !== self.host) return true;
  return other.pid !== self.pid && alive(other.pid);
}

/**
 * Whether a process (or a group of workers, which is one instance) must register: with a configured
 * secret replicas may share storage freely; a read-only registry holds no upload sessions, so the
 * secret does not matter, and it must not write; in-memory storage is never shared.
 */
export function needsInstanceGuard(config: Config): boolean {
  return config.http.secret === undefined && config.storage.driver !== 'inmemory' && !config.storage.maintenance.readonly.enabled;
}

export interface InstanceGuard {
  stop(): Promise<void>;
}

/**
 * Registers this process and throws SharedStorageError when another live, secret-less Berth uses
 * the same storage. Returns a guard whose stop() ends the heartbeat and removes the registration.
 */
export async function guardSecretlessSharing(driver: StorageDriver, now: () => number = Date.now): Promise<InstanceGuard> {
  const id = randomBytes(12).toString('hex');
  const path = paths.instance(id);
  const self: Instance = { host: hostname(), pid: process.pid, startedAt: new Date(now()).toISOString() };
  const beat = () => driver.putContent(path, Buffer.from(JSON.stringify(self)));
  await beat();
  let others: string[] = [];
  try {
    others = (await driver.list(paths.instances)).filter((p) => p !== path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (const other of others) {
    try {
      const info = await driver.stat(other);
      const instance = JSON.parse((await driver.getContent(other)).toString('utf8')) as Instance;
      if (now() - info.modTime.getTime() > FRESH_MS) {
        await driver.delete(other).catch(() => undefined);
        continue;
      }
      if (isOther(instance, self)) {
        await driver.delete(path).catch(() => undefined);
        throw new SharedStorageError(
          `http.secret: required: another Berth process (host ${instance.host}, pid ${instance.pid}) is using the same storage; ` +
            'give every replica the same http.secret (REGISTRY_HTTP_SECRET)',
        );
      }
    } catch (err) {
      if (err instanceof SharedStorageError) throw err;
      // A registration that vanished or is unreadable mid-check is not a live replica.
    }
  }
  const timer = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS).unref();
  return {
    async stop() {
      clearInterval(timer);
      await driver.delete(path).catch(() => undefined);
    },
  };
}
