import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

export interface FileWatch {
  close(): void;
}

/** Identity and version of each file, following symlinks (Kubernetes swaps a `..data` link). */
export async function fileSignature(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (f) => {
      try {
        const s = await stat(f);
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code ?? 'error';
      }
    }),
  );
  return parts.join('|');
}

/**
 * Calls `onChange` (never twice at once) after any of `files` changes. Directory events give
 * promptness; a periodic stat catches what they miss (network file systems, a watch limit reached,
 * a directory replaced). Events are gathered for `settleMs` so a pair written one after the other
 * is usually seen whole. `since`: the signature taken before the caller loaded the files, so a
 * change between that load and this call is noticed (default: the files as they are now).
 */
export function watchFiles(files: readonly string[], opts: { intervalMs: number; settleMs?: number; since?: string; onChange: () => Promise<void> }): FileWatch {
  let last: Promise<string> = opts.since !== undefined ? Promise.resolve(opts.since) : fileSignature(files);
  let busy = false;
  let again = false;
  let settle: NodeJS.Timeout | undefined;
  let closed = false;

  async function check(): Promise<void> {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        const [before, now] = await Promise.all([last, fileSignature(files)]);
        if (closed || now === before) continue;
        last = Promise.resolve(now);
        await opts.onChange();
      } while (again && !closed);
    } finally {
      busy = false;
    }
  }
  const soon = () => {
    clearTimeout(settle);
    settle = setTimeout(() => void check(), opts.settleMs ?? 200);
    settle.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => path.dirname(path.resolve(f))))) {
    try {
      const w = watch(dir, { persistent: false }, soon);
      // A watch that breaks (directory removed) leaves the periodic check in charge.
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // Not watchable here: the periodic check alone notices changes.
    }
  }
  const poll = setInterval(() => void check(), opts.intervalMs);
  poll.unref();

  return {
    close() {
      closed = true;
      clearTimeout(settle);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
