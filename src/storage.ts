import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createFilesystemDriver, createMemoryDriver, type DecoratorOptions } from '../storage-drivers/index';
import { createS3Driver } from '../storage-drivers/s3';
import type { StorageDriver } from '../storage-drivers/types';
import type { Config } from './config/schema';

/** The storage driver cannot be used; the message is one line naming the problem. */
export class StorageSetupError extends Error {
  override readonly name = 'StorageSetupError';
}

export interface StorageSetupOptions extends DecoratorOptions {
  /** Base for a relative root directory (default: the process's working directory). */
  cwd?: string;
}

/** The root directory the filesystem driver will use, as an absolute path. */
export function filesystemRoot(config: Config, cwd: string = process.cwd()): string {
  return path.resolve(cwd, config.storage.filesystem.rootdirectory);
}

/**
 * Builds the configured driver. For the filesystem driver the root is created if missing and checked
 * for write access now, so a bad root stops start-up instead of failing the first push. A read-only
 * registry (storage.maintenance.readonly) only reads, so its root must exist and be readable, and
 * may sit on a read-only mount.
 */
export async function createStorageDriver(config: Config, opts: StorageSetupOptions = {}): Promise<StorageDriver> {
  const { cwd, ...decorator } = opts;
  if (config.storage.driver === 'inmemory') return createMemoryDriver(decorator);
  if (config.storage.driver === 's3' && config.storage.s3) {
    const { v4auth: _v4auth, ...s3 } = config.storage.s3;
    try {
      return createS3Driver({ ...decorator, ...s3, redirect: !config.storage.redirect.disable });
    } catch (e) {
      throw new StorageSetupError(`storage.s3: ${(e as Error).message.replace(/^s3: /, '')}`);
    }
  }
  const root = filesystemRoot(config, cwd);
  const readOnly = config.storage.maintenance.readonly.enabled;
  try {
    if (!readOnly) await mkdir(root, { recursive: true });
    await access(root, constants.R_OK | constants.X_OK | (readOnly ? 0 : constants.W_OK));
  } catch (e) {
    throw new StorageSetupError(`storage.filesystem.rootdirectory: cannot use ${root}: ${describeRootError(e as NodeJS.ErrnoException)}`);
  }
  return createFilesystemDriver({ ...decorator, rootDirectory: root });
}

function describeRootError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'not a directory';
    case 'ENOENT':
      return 'no such directory';
    case 'EROFS':
      return 'read-only file system (set storage.maintenance.readonly.enabled to serve it read-only)';
    default:
      return err.message;
  }
}
