import {
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { type S3Context, UPLOAD_SUFFIX } from './context';
import { deleteKeys } from './delete-keys';

export interface Entry {
  name: string;
  isDir: boolean;
}

/** Pages of ListObjectsV2 (1,000 keys or common prefixes each). */
export async function* listPages(
  ctx: S3Context,
  prefix: string,
  delimiter?: string,
  maxKeys?: number,
): AsyncGenerator<ListObjectsV2CommandOutput> {
  let token: string | undefined;
  do {
    const page = await ctx.send(
      new ListObjectsV2Command({
        Bucket: ctx.bucket,
        Prefix: prefix,
        Delimiter: delimiter,
        MaxKeys: maxKeys,
        ContinuationToken: token,
      }),
    );
    yield page;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
}

/** True when some object lies below `prefix` (one request). */
export async function hasObjectsBelow(ctx: S3Context, prefix: string): Promise<boolean> {
  for await (const page of listPages(ctx, prefix, undefined, 1)) return (page.Contents?.length ?? 0) > 0;
  return false;
}

/**
 * The direct children below `prefix`, sorted by name: one ListObjectsV2 request per 1,000 children.
 * A name that is both a file and a directory is reported as the directory.
 */
export async function listChildren(ctx: S3Context, prefix: string): Promise<Entry[]> {
  const entries = new Map<string, Entry>();
  for await (const page of listPages(ctx, prefix, '/')) {
    for (const p of page.CommonPrefixes ?? []) {
      const name = p.Prefix!.slice(prefix.length, -1);
      if (name !== '') entries.set(name, { name, isDir: true });
    }
    for (const o of page.Contents ?? []) {
      let name = o.Key!.slice(prefix.length);
      // An upload object stands for its (uncommitted) file.
      if (name.endsWith(UPLOAD_SUFFIX)) name = name.slice(0, -UPLOAD_SUFFIX.length);
      if (name !== '' && !entries.has(name)) entries.set(name, { name, isDir: false });
    }
  }
  return [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Deletes every object below `prefix` (1,000 a request); returns how many there were. `alongside`
 * (keys that may be absent) go with the first batch, when there is anything below.
 */
export async function deleteBelow(ctx: S3Context, prefix: string, alongside: string[] = [], relist = true): Promise<number> {
  let count = 0;
  // Collect a page before deleting from it, so deletions never shift the listing under us; and list
  // again until nothing is left, even after a last page: a writer racing the delete (a tag pushed
  // again while its manifest is deleted) may have added keys the listing did not see, and stopping
  // there leaves a tag directory without its current link (test/replicas/manifest-delete-race).
  // Without `relist` (nothing writes there any more) a last page that was not full ends it.
  for (;;) {
    const keys: string[] = [];
    let more = false;
    for await (const page of listPages(ctx, prefix)) {
      for (const o of page.Contents ?? []) keys.push(o.Key!);
      more = page.IsTruncated === true;
      break;
    }
    if (keys.length === 0) return count;
    count += keys.length;
    await deleteKeys(ctx, count === keys.length ? [...keys, ...alongside] : keys);
    if (!relist && !more) return count;
  }
}

export interface MultipartUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

/** Multipart uploads whose key is `key` or lies below `key/` (everything below it when `key` is a prefix ending in `/` or empty). */
export async function uploadsAt(ctx: S3Context, key: string): Promise<MultipartUpload[]> {
  const found: MultipartUpload[] = [];
  let keyMarker: string | undefined;
  let idMarker: string | undefined;
  for (;;) {
    const page = await ctx.send(
      new ListMultipartUploadsCommand({ Bucket: ctx.bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
    );
    for (const u of page.Uploads ?? []) {
      const k = u.Key!;
      if ((k === key || k.startsWith(`${key}/`) || key === '' || key.endsWith('/')) && u.UploadId) {
        found.push({ key: k, uploadId: u.UploadId, initiated: u.Initiated ?? new Date() });
      }
    }
    if (!page.IsTruncated) return found;
    keyMarker = page.NextKeyMarker;
    idMarker = page.NextUploadIdMarker;
  }
}
