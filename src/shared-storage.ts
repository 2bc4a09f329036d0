import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { StorageDriver } from '../storage-drivers/types';
import type { Config } from './config/schema';
import { isNotFound } from '../storage-drivers/errors';
import { paths } from './oci/paths';
import { filesystemRoot } from './storage';
import { takeFileLock, type FileLock } from './file-lock';

/**
 * Detects a second Berth process on the same storage when no `http.secret` is configured. Without
 * a shared secret each process signs upload state with its own random key, so an upload that moves
 * between replicas would fail mid-push; refusing to start makes the misconfiguration visible at
 * once instead.
 *
 * On a filesystem the proof is an OS lock on a file in the root (file-lock.ts), which the kernel
 * drops when its holder dies, however it dies: a replacement starts at once after a crash. Where no
 * lock can be had (S3; a filesystem without locks; no flock(1)) each process keeps a heartbeat file
 * under `/berth/instances/` (outside Distribution's layout), and a fresh heartbeat from a live
 * process other than this one means sharing; a crashed process's heartbeat keeps refusing a
 * replacement on another host (a new container) until it is stale. A lock holder writes a heartbeat
 * too, marked `lock`, so that a process that cannot lock still sees it (docs/architecture.md).
 */
const HEARTBEAT_MS = 10_000;
/** A heartbeat older than this belongs to a process that is gone. */
const FRESH_MS = 3 * HEARTBEAT_MS;
/** How long a process refused by the lock waits for the holder to name itself in the lock file. */
const HOLDER_WAIT_MS = 1_000;

interface Instance {
  host: string;
  pid: number;
  startedAt: string;
  /** Written by a holder of the storage lock: whoever holds the lock now knows it is gone. */
  lock?: true;
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

/** The lock file in a filesystem root, or undefined where the storage offers no file to lock. */
export function instanceLockFile(config: Config, cwd?: string): string | undefined {
  return config.storage.driver === 'filesystem' ? join(filesystemRoot(config, cwd), 'berth', 'instance.lock') : undefined;
}

export interface InstanceGuard {
  stop(): Promise<void>;
}

export interface GuardOptions {
  /** The file to lock (instanceLockFile); without one, heartbeats alone. */
  lockFile?: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The lock went while serving and could not be taken again: this process must stop. */
  onLost?: (reason: string) => void;
  now?: () => number;
}

function refusal(holder: Instance | undefined): SharedStorageError {
  const who = holder ? ` (host ${holder.host}, pid ${holder.pid})` : '';
  return new SharedStorageError(
    `http.secret: required: another Berth process${who} is using the same storage; ` + 'give every replica the same http.secret (REGISTRY_HTTP_SECRET)',
  );
}

/** The lock holder's identity, which it writes just after it takes the lock: wait a moment for it. */
async function lockHolder(file: string): Promise<Instance | undefined> {
  const until = Date.now() + HOLDER_WAIT_MS;
  for (;;) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Instance;
    } catch {
      if (Date.now() >= until) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Takes the storage lock: the lock, undefined where none is possible (said in the log), or throws when another process holds it. */
async function lockStorage(file: string, self: Instance, opts: GuardOptions): Promise<FileLock | undefined> {
  try {
    await mkdir(dirname(file), { recursive: true });
  } catch (err) {
    opts.logger?.warn({ file, err }, 'cannot create the storage lock file: using heartbeats only (a restart within 30 s of a crash is refused)');
    return undefined;
  }
  const taken = await takeFileLock(file);
  if (taken.kind === 'busy') throw refusal(await lockHolder(file));
  if (taken.kind === 'unsupported') {
    opts.logger?.warn({ file, reason: taken.reason }, 'no storage lock: using heartbeats only (a restart within 30 s of a crash is refused)');
    return undefined;
  }
  await writeFile(file, JSON.stringify(self));
  return taken.lock;
}

/**
 * Registers this process and throws SharedStorageError when another live, secret-less Berth uses
 * the same storage. Returns a guard whose stop() ends the heartbeat, drops the lock and removes the
 * registration.
 */
export async function guardSecretlessSharing(driver: StorageDriver, opts: GuardOptions = {}): Promise<InstanceGuard> {
  const now = opts.now ?? Date.now;
  const id = randomBytes(12).toString('hex');
  const path = paths.instance(id);
  const self: Instance = { host: hostname(), pid: process.pid, startedAt: new Date(now()).toISOString() };
  let lock = opts.lockFile === undefined ? undefined : await lockStorage(opts.lockFile, self, opts);
  if (lock) self.lock = true;
  const beat = () => driver.putContent(path, Buffer.from(JSON.stringify(self)));
  try {
    await checkHeartbeats(driver, path, self, beat, now);
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const timer = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS).unref();
  let stopped = false;
  const watch = (held: FileLock) =>
    held.onLost((reason) => {
      opts.logger?.error({ file: opts.lockFile, reason }, 'storage lock lost: taking it again');
      void (async () => {
        const again = await takeFileLock(opts.lockFile!, { waitSeconds: 0 });
        if (stopped) return void (again.kind === 'held' && (await again.lock.release()));
        if (again.kind === 'held') {
          lock = again.lock;
          await writeFile(opts.lockFile!, JSON.stringify(self)).catch(() => undefined);
          opts.logger?.info({ file: opts.lockFile }, 'storage lock taken again');
          return watch(again.lock);
        }
        lock = undefined;
        opts.onLost?.(again.kind === 'busy' ? 'another process took the storage lock' : again.reason);
      })();
    });
  if (lock) {
    watch(lock);
    opts.logger?.info({ file: opts.lockFile }, 'holding the storage lock');
  }
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await driver.delete(path).catch(() => undefined);
      await lock?.release();
    },
  };
}

/** Writes this process's heartbeat and throws if another live process's heartbeat is fresh. */
async function checkHeartbeats(driver: StorageDriver, path: string, self: Instance, beat: () => Promise<void>, now: () => number): Promise<void> {
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
      // Holding the lock proves that any other holder is gone, however fresh its heartbeat.
      const gone = now() - info.modTime.getTime() > FRESH_MS || (self.lock === true && instance.lock === true);
      if (gone) {
        await driver.delete(other).catch(() => undefined);
        continue;
      }
      if (isOther(instance, self)) {
        await driver.delete(path).catch(() => undefined);
        throw refusal(instance);
      }
    } catch (err) {
      if (err instanceof SharedStorageError) throw err;
      // A registration that vanished or is unreadable mid-check is not a live replica.
    }
  }
}
