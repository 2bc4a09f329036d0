import { validatePath } from './paths';
import type { DeleteOptions, FileInfo, FileReadable, FileWriter, LeftoverOptions, PutContentOptions, ReaderOptions, RedirectOptions, StorageDriver, WriterOptions } from './types';

export type DriverOperation =
  | 'getContent'
  | 'putContent'
  | 'createExclusive'
  | 'reader'
  | 'writer'
  | 'stat'
  | 'statFile'
  | 'list'
  | 'walk'
  | 'move'
  | 'delete'
  | 'deleteIf'
  | 'pruneDirs'
  | 'redirectUrl'
  | 'purgeLeftovers';

export interface DecoratorOptions {
  /**
   * Called once per operation with its duration, and the error when it failed: the hook for metrics
   * and logging. For reader and writer it times opening the stream, not the transfer.
   */
  onOperation?: (driver: string, op: DriverOperation, ms: number, err?: unknown) => void;
}

/**
 * The one wrapper every driver goes through: it rejects invalid paths with InvalidPathError before
 * the driver sees them (so drivers may assume valid paths), and reports each operation.
 */
export function withValidation(driver: StorageDriver, opts: DecoratorOptions = {}): StorageDriver {
  const name = driver.name;
  const report = opts.onOperation;

  async function run<T>(op: DriverOperation, paths: [string, boolean][], fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      for (const [path, allowRoot] of paths) validatePath(name, path, allowRoot);
      const result = await fn();
      report?.(name, op, performance.now() - started);
      return result;
    } catch (err) {
      report?.(name, op, performance.now() - started, err);
      throw err;
    }
  }

  async function* walk(path: string): AsyncIterable<FileInfo> {
    const started = performance.now();
    try {
      validatePath(name, path, true);
      yield* driver.walk(path);
      report?.(name, 'walk', performance.now() - started);
    } catch (err) {
      report?.(name, 'walk', performance.now() - started, err);
      throw err;
    }
  }

  return {
    name,
    getContent: (path: string): Promise<Buffer> => run('getContent', [[path, false]], () => driver.getContent(path)),
    putContent: (path: string, data: Uint8Array, o?: PutContentOptions): Promise<void> =>
      run('putContent', [[path, false]], () => driver.putContent(path, data, o)),
    createExclusive: (path: string, data: Uint8Array, opts?: PutContentOptions): Promise<void> =>
      run('createExclusive', [[path, false]], () => driver.createExclusive(path, data, opts)),
    reader: (path: string, o?: ReaderOptions): Promise<FileReadable> =>
      run('reader', [[path, false]], () => driver.reader(path, o)),
    writer: (path: string, o: WriterOptions): Promise<FileWriter> =>
      run('writer', [[path, false]], () => driver.writer(path, o)),
    stat: (path: string): Promise<FileInfo> => run('stat', [[path, true]], () => driver.stat(path)),
    statFile: (path: string): Promise<FileInfo | null> => run('statFile', [[path, false]], () => driver.statFile(path)),
    list: (path: string): Promise<string[]> => run('list', [[path, true]], () => driver.list(path)),
    walk,
    move: (src: string, dst: string): Promise<void> =>
      run('move', [[src, false], [dst, false]], () => driver.move(src, dst)),
    delete: (path: string, opts?: DeleteOptions): Promise<void> => run('delete', [[path, true]], () => driver.delete(path, opts)),
    deleteIf: (path: string, expected: Uint8Array): Promise<boolean> => run('deleteIf', [[path, false]], () => driver.deleteIf(path, expected)),
    pruneDirs: (path: string): Promise<void> => run('pruneDirs', [[path, false]], () => driver.pruneDirs(path)),
    redirectUrl: (path: string, o: RedirectOptions): Promise<string | null> =>
      run('redirectUrl', [[path, false]], () => driver.redirectUrl(path, o)),
    purgeLeftovers: (olderThan: Date, o?: LeftoverOptions): Promise<FileInfo[]> =>
      run('purgeLeftovers', [], () => driver.purgeLeftovers(olderThan, o)),
  };
}
