import { InvalidPathError } from './errors';

const COMPONENT = /^[A-Za-z0-9._:-]+$/;

/** True when `name` may appear as one component of a storage path. */
export function isValidComponent(name: string): boolean {
  return COMPONENT.test(name) && name !== '.' && name !== '..';
}

/**
 * Throws InvalidPathError unless `path` is absolute, slash-separated, without empty, `.` or `..`
 * components and without a trailing slash. The root `/` is accepted only when `allowRoot` is set,
 * because only directory operations (list, walk, stat, delete) have a meaning for it.
 */
export function validatePath(driverName: string, path: string, allowRoot = false): void {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidPathError(driverName, String(path));
  if (path === '/') {
    if (allowRoot) return;
    throw new InvalidPathError(driverName, path);
  }
  const parts = path.slice(1).split('/');
  for (const part of parts) {
    if (!isValidComponent(part)) throw new InvalidPathError(driverName, path);
  }
}

/** Components of an already validated path; `/` has none. */
export function splitPath(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/** Joins a directory path and a child name into a full path. */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
