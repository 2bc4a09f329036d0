const ignore = (): void => undefined;

/**
 * Directory fsyncs shared between concurrent requests. A new name is durable once an fsync of its
 * directory that STARTED after the rename (or link) has completed. So a request cannot use an fsync
 * already in flight (it may have started before that request's rename), but it can share the next
 * one: that starts when the current one ends and serves every request that asked meanwhile. Under
 * concurrent writes to one directory (a repository's tags, revisions, a blob prefix) this leaves one
 * fsync running and one waiting per directory, instead of one per request queued on its inode lock.
 *
 * A failed fsync fails every request that shared it: the kernel reports a write-back error once,
 * so no later fsync could tell those requests that their names may be lost.
 */
export class DirSyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Promise<void>>();

  constructor(private readonly fsyncDir: (dir: string) => Promise<void>) {}

  /** Resolves once an fsync of `dir` that started after this call has completed. */
  sync(dir: string): Promise<void> {
    const waiting = this.next.get(dir);
    if (waiting) return waiting;
    const current = this.running.get(dir);
    if (!current) return this.start(dir);
    const queued = current.then(ignore, ignore).then(() => {
      // Whoever asks from here on would start after this fsync's start: they queue behind it.
      this.next.delete(dir);
      return this.start(dir);
    });
    this.next.set(dir, queued);
    return queued;
  }

  private start(dir: string): Promise<void> {
    const run = this.fsyncDir(dir).finally(() => {
      if (this.running.get(dir) === run) this.running.delete(dir);
    });
    this.running.set(dir, run);
    return run;
  }
}
