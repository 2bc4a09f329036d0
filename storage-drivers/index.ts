import { type DecoratorOptions, withValidation } from './decorator';
import { FilesystemDriver, type FilesystemDriverOptions } from './filesystem/fs-driver';
import { MemoryDriver } from './memory/memory-driver';
import type { StorageDriver } from './types';

export * from './types';
export * from './errors';
export { validatePath, isValidComponent } from './paths';
export { withValidation, type DecoratorOptions, type DriverOperation } from './decorator';
export type { FilesystemDriverOptions } from './filesystem/fs-driver';

/** A driver that keeps everything in this process's memory (tests, experiments). */
export function createMemoryDriver(opts: DecoratorOptions = {}): StorageDriver {
  return withValidation(new MemoryDriver(), opts);
}

/** A driver that stores each path as a file below `rootDirectory` (created on first write). */
export function createFilesystemDriver(opts: FilesystemDriverOptions & DecoratorOptions): StorageDriver {
  return withValidation(new FilesystemDriver(opts), opts);
}
export { createS3Driver, type S3DriverOptions } from './s3';
