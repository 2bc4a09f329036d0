import { posix } from 'node:path';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * A tar entry name as the image-spec's changeset rules compare them: `./etc/passwd`, `/etc/passwd`
 * and `etc//passwd/` are all `etc/passwd`. `..` cannot climb above the root (an extractor that let
 * it would write outside the rootfs), so it is resolved against `/` as runtimes do.
 */
export function normaliseEntryPath(name: string): string {
  const resolved = posix.normalize('/' + name);
  const relative = resolved.replace(/^\/+/, '').replace(/\/+$/, '');
  return relative === '' ? '.' : relative;
}

export type WhiteoutKind = { kind: 'whiteout'; hides: string } | { kind: 'opaque'; dir: string };

/**
 * Whether a normalised path is a whiteout marker, and what it hides. Other `.wh..wh.` names are
 * AUFS bookkeeping (`.wh..wh.plnk`) that the spec reserves: neither a file nor a whiteout.
 */
export function whiteoutOf(path: string): WhiteoutKind | 'reserved' | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = slash < 0 ? '.' : path.slice(0, slash);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return 'reserved';
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '') return 'reserved';
  return { kind: 'whiteout', hides: dir === '.' ? name : `${dir}/${name}` };
}

/** `a/b/c` -> [`a`, `b`, `c`]; the root `.` has no components. */
export function pathComponents(path: string): string[] {
  return path === '.' ? [] : path.split('/');
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
