import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { killGroup, run } from './exec';

export interface Daemon {
  proc: ChildProcess;
  /** Everything the daemon wrote so far (last 64 KiB). */
  logs: () => string;
  /** SIGTERM, then SIGKILL to its whole process group after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

// Daemons lead their own process groups, so they would outlive a test process that is killed
// (a runner timeout, Ctrl-C) before its `after` hooks run. These hooks end them anyway.
const live = new Set<number>();
let hooksInstalled = false;

function killLive(): void {
  for (const pid of live) killGroup(pid, 'SIGKILL');
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killLive);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const)
    process.once(signal, () => {
      killLive();
      process.exit(code);
    });
}

/** Starts a long-running process in its own process group, so stopping it takes its helpers too. */
export function spawnDaemon(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Daemon {
  installExitHooks();
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = proc.pid;
  if (pid !== undefined) live.add(pid);
  let output = '';
  const keep = (d: string) => {
    output = (output + d).slice(-65536);
  };
  proc.stdout.setEncoding('utf8').on('data', keep);
  proc.stderr.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      if (pid !== undefined) live.delete(pid);
      resolve();
    });
    proc.once('error', (e) => {
      keep(`spawn error: ${e.message}\n`);
      resolve();
    });
  });
  return {
    proc,
    logs: () => output,
    async stop(graceMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
        proc.kill('SIGTERM');
        const killer = setTimeout(() => killGroup(proc.pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(killer);
      }
      // Children that outlived their parent (shims, helpers) still share its group.
      killGroup(pid, 'SIGKILL');
      if (pid !== undefined) live.delete(pid);
    },
  };
}

/** Polls `probe` until it resolves true, the daemon exits, or `timeoutMs` passes. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  daemon: Daemon,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null)
      throw new Error(`${what} exited before it was ready:\n${daemon.logs()}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${daemon.logs()}`);
}

/** Mount points at or below `dir`, deepest first. */
async function mountsBelow(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(prefix)))
    .map((m) => m.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes a daemon's state directory. Container runtimes can leave mounts behind (shm, rootfs) when
 * they are killed, and rm cannot cross those, so they are lazily unmounted first.
 */
export async function removeTree(dir: string): Promise<void> {
  for (const m of await mountsBelow(dir)) await run('umount', ['-l', m], { timeoutMs: 10_000, allowFailure: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      return;
    } catch (e) {
      if (attempt >= 2) throw e;
      // vfs layers can contain read-only directories; make them writable and retry.
      await run('chmod', ['-R', 'u+rwx', dir], { timeoutMs: 60_000, allowFailure: true });
    }
  }
}
