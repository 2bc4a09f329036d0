import { PathNotFoundError } from '../errors';
import { isValidComponent } from '../paths';
import type { FileInfo } from '../types';
import { type S3Context, UPLOAD_SUFFIX } from './context';
import { listPages } from './listing';
import { WalkOrder } from './walk-order';

interface Listed {
  key: string;
  size: number;
  modTime: Date;
}

/**
 * Everything below `path` from one flat listing (1,000 keys a request, not one request per
 * directory), reordered into walk order; directories are derived from the keys. Uncommitted
 * uploads are reported through `statUpload`, which knows their size.
 */
export async function* walkTree(
  ctx: S3Context,
  path: string,
  statUpload: (path: string) => Promise<FileInfo>,
): AsyncGenerator<FileInfo> {
  const prefix = ctx.dirPrefix(path);
  const base = path === '/' ? '' : path;
  const order = new WalkOrder(prefix.length);
  const listed = new Map<string, Listed>();
  const openDirs: string[] = [];
  let lastFile = '';
  let any = false;

  async function* emit(key: string): AsyncGenerator<FileInfo> {
    const item = listed.get(key) as Listed;
    listed.delete(key);
    let rel = key.slice(prefix.length);
    const uncommitted = rel.endsWith(UPLOAD_SUFFIX);
    if (uncommitted) rel = rel.slice(0, -UPLOAD_SUFFIX.length);
    const parts = rel.split('/');
    if (!parts.every(isValidComponent)) return; // not written through a driver
    let depth = 0;
    while (depth < openDirs.length && depth < parts.length - 1 && openDirs[depth] === parts[depth]) depth++;
    openDirs.length = depth;
    for (; depth < parts.length - 1; depth++) {
      openDirs.push(parts[depth]);
      yield { path: `${base}/${openDirs.join('/')}`, size: 0, modTime: new Date(0), isDir: true };
    }
    const full = `${base}/${rel}`;
    if (full === lastFile) return; // committed content and a leftover upload object
    lastFile = full;
    any = true;
    yield uncommitted ? await statUpload(full) : { path: full, size: item.size, modTime: item.modTime, isDir: false };
  }

  for await (const page of listPages(ctx, prefix)) {
    for (const o of page.Contents ?? []) {
      const key = o.Key as string;
      listed.set(key, { key, size: o.Size ?? 0, modTime: o.LastModified ?? new Date() });
      for (const ready of order.push(key)) yield* emit(ready);
    }
  }
  for (const ready of order.finish()) yield* emit(ready);
  if (!any && path !== '/') throw new PathNotFoundError('s3', path);
}
