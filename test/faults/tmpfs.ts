import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/exec';

/** A small tmpfs the test owns: real ENOSPC when full, real EROFS once remounted read-only. */
export interface Tmpfs {
  dir: string;
  remount(mode: 'ro' | 'rw'): Promise<void>;
  /** Unmounts (lazily, so a process still holding a file cannot keep it) and removes the mount point. */
  dispose(): Promise<void>;
}

/**
 * Mounts a tmpfs of `size` (mount's syntax, e.g. `2m`), or returns why it cannot: these tests need
 * root and a kernel that lets this process mount. CI runs as root, so there either failure throws
 * instead of skipping.
 */
export async function mountTmpfs(size: string): Promise<Tmpfs | string> {
  const why = await mountFailure(size);
  if (typeof why !== 'string') return why;
  if (process.env.CI) throw new Error(`fault-injection tests must run in CI: ${why}`);
  return why;
}

async function mountFailure(size: string): Promise<Tmpfs | string> {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const dir = await mkdtemp(join(tmpdir(), 'berth-fault-'));
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { allowFailure: true, timeoutMs: 10_000 });
  if (mounted.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${mounted.stderr.trim()}`;
  }
  return {
    dir,
    async remount(mode) {
      await run('mount', ['-o', `remount,${mode}`, dir], { timeoutMs: 10_000 });
    },
    async dispose() {
      await run('umount', ['-l', dir], { allowFailure: true, timeoutMs: 10_000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
