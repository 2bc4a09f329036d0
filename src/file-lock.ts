import { spawn as nodeSpawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * An exclusive flock(2) on a file, held by a `flock(1)` child (util-linux) for as long as this
 * process lives: Node has no flock, and a native addon would need a compiler at install time.
 *
 * The child is `flock --no-fork FILE cat`: flock takes the lock and becomes `cat`, which holds the
 * locked descriptor and reads its standard input, a pipe from this process. When this process dies,
 * however (SIGKILL, OOM, `docker rm -f`), the kernel closes the pipe, `cat` reads end-of-file and
 * exits, and the kernel drops the lock with its last descriptor. `cat` echoes a line written to it
 * once it runs, which tells that the lock is held.
 */
export type LockResult =
  | { kind: 'held'; lock: FileLock }
  /** Another process holds the lock. */
  | { kind: 'busy' }
  /** No lock can be had here (no flock(1), a filesystem without locks): `reason` says why. */
  | { kind: 'unsupported'; reason: string };

export interface FileLock {
  /** Called once if the lock goes while held (its child was killed), never after release(). */
  onLost(callback: (reason: string) => void): void;
  /** Drops the lock; resolves once the child has exited. */
  release(): Promise<void>;
}

export interface FileLockOptions {
  /** How long to wait for a lock another process holds: a holder that just died may still be exiting. */
  waitSeconds?: number;
  /** For tests: what starts the child. */
  spawn?: typeof nodeSpawn;
}

/** flock's exit code when the lock is taken (its default, 1, also means other failures). */
const CONFLICT = 75;
const HANDSHAKE = 'locked\n';

export function takeFileLock(file: string, opts: FileLockOptions = {}): Promise<LockResult> {
  const spawn = opts.spawn ?? nodeSpawn;
  const args = ['--exclusive', '--timeout', String(opts.waitSeconds ?? 1), '--conflict-exit-code', String(CONFLICT), '--no-fork', file, 'cat'];
  return new Promise<LockResult>((resolve) => {
    let child: ChildProcessWithoutNullStreams;
    try {
      // Its own session: a Ctrl-C for this process's group must not take the lock before the drain.
      child = spawn('flock', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      resolve({ kind: 'unsupported', reason: `cannot run flock(1): ${(err as Error).message}` });
      return;
    }
    let settled = false;
    let echoed = '';
    let stderr = '';
    let released = false;
    let lost: ((reason: string) => void) | undefined;
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'flock(1) is not installed (util-linux)' : `cannot run flock(1): ${err.message}`;
      resolve({ kind: 'unsupported', reason });
    });
    child.once('exit', (code, signal) => {
      if (!settled) {
        settled = true;
        if (code === CONFLICT) resolve({ kind: 'busy' });
        else resolve({ kind: 'unsupported', reason: `flock(1) failed (${signal ?? `exit code ${code}`}): ${stderr.trim() || 'no message'}` });
        return;
      }
      if (!released) lost?.(`the flock(1) child holding it ended (${signal ?? `exit code ${code}`})`);
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      echoed += d;
      if (settled || !echoed.includes(HANDSHAKE)) return;
      settled = true;
      // The lock must not keep this process alive; it goes when the process does.
      const streams = [child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>;
      child.unref();
      for (const s of streams) s.unref?.();
      resolve({
        kind: 'held',
        lock: {
          onLost: (callback) => (lost = callback),
          async release() {
            if (released) return;
            released = true;
            // Waiting for the exit must keep this process alive, or it would end with the wait.
            child.ref();
            for (const s of streams) s.ref?.();
            child.stdin.end();
            await exited;
          },
        },
      });
    });
    child.stdin.write(HANDSHAKE);
  });
}
