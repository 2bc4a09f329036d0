import type { FileHandle } from 'node:fs/promises';

/**
 * Datasyncs that outlive the writer that started them. A writer ended without commit (an upload's
 * PATCH) hands its handle over here, so the disk writes that chunk while the client sends the next
 * one, instead of all of the upload at commit. A later commit of the same file waits for them.
 *
 * A failed datasync stays recorded until the file is cancelled or deleted: once one fsync has
 * reported a write error, the kernel does not report it again, so a later commit's own fsync could
 * succeed over lost data.
 */
export class PendingFlushes {
  private readonly byFile = new Map<string, Promise<Error | null>>();

  /** Datasyncs and then closes `handle`; never rejects. */
  start(file: string, handle: FileHandle): void {
    const previous = this.byFile.get(file);
    const flush = (async (): Promise<Error | null> => {
      let error: Error | null = null;
      try {
        await handle.datasync();
      } catch (err) {
        error = err as Error;
      }
      await handle.close().catch(() => undefined);
      return (previous ? await previous : null) ?? error;
    })();
    this.byFile.set(file, flush);
    void flush.then((error) => {
      if (error === null && this.byFile.get(file) === flush) this.byFile.delete(file);
    });
  }

  /** Waits for the file's pending datasyncs; rejects with the first failure any of them had. */
  async settle(file: string): Promise<void> {
    const flush = this.byFile.get(file);
    const error = flush ? await flush : null;
    if (error) throw error;
  }

  /** Forgets `path` and everything below it (deleted or cancelled), once their datasyncs are done. */
  async forget(path: string): Promise<void> {
    const below = `${path}/`;
    for (const [file, flush] of this.byFile) {
      if (file !== path && !file.startsWith(below)) continue;
      await flush;
      if (this.byFile.get(file) === flush) this.byFile.delete(file);
    }
  }
}
