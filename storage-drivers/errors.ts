/** Typed driver errors; each names the driver and the path so logs say where it happened. */
export class StorageError extends Error {
  constructor(
    readonly driver: string,
    readonly path: string,
    message: string,
  ) {
    super(`${driver}: ${message}: ${path}`);
    this.name = new.target.name;
  }
}

export class PathNotFoundError extends StorageError {
  constructor(driver: string, path: string) {
    super(driver, path, 'path not found');
  }
}

export class InvalidPathError extends StorageError {
  constructor(driver: string, path: string) {
    super(driver, path, 'invalid path');
  }
}

/** createExclusive found something at the path already: another creator won. */
export class PathExistsError extends StorageError {
  constructor(driver: string, path: string) {
    super(driver, path, 'path exists');
  }
}

/**
 * An upload's stored content is not what one chain of its writers wrote: two writers continued it
 * from the same point and stored over each other. Committing it would store bytes no single
 * request sent (and no running hash covers).
 */
export class ConcurrentUploadError extends StorageError {
  constructor(driver: string, path: string) {
    super(driver, path, 'the upload was changed by another writer');
  }
}

export class InvalidOffsetError extends StorageError {
  constructor(
    driver: string,
    path: string,
    readonly offset: number,
  ) {
    super(driver, path, `invalid offset ${offset}`);
  }
}

export function isNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}

export function isExists(err: unknown): err is PathExistsError {
  return err instanceof PathExistsError;
}
