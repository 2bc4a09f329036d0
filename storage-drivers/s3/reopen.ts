import type { S3Context } from './context';
import { copyParts } from './copy';
import { leadingCopyRanges, MIN_PART_SIZE } from './limits';
import { abortUpload, createUpload, type Part } from './multipart';

/** Committed content turned back into the start of an upload that more bytes can follow. */
export type Reopened = { tail: Buffer } | { uploadId: string; parts: Part[] };

/**
 * Makes the `size` committed bytes at `key` the beginning of a new upload to the same key: content
 * shorter than a part is read into memory as the tail (it is less than one part, which a writer
 * holds anyway); longer content is copied inside the bucket as the first parts of a multipart
 * upload, which the caller then owns (it records, completes or aborts it).
 */
export async function reopenCommitted(ctx: S3Context, key: string, size: number, signal?: AbortSignal): Promise<Reopened> {
  if (size < MIN_PART_SIZE) {
    const tail = await ctx.getSmall(key, signal);
    if (tail.length !== size) throw new Error(`s3: ${key} changed while it was reopened (${size} bytes, now ${tail.length})`);
    return { tail };
  }
  const uploadId = await createUpload(ctx, key, signal);
  try {
    return { uploadId, parts: await copyParts(ctx, key, key, uploadId, leadingCopyRanges(size, ctx.options.copyChunkSize), signal) };
  } catch (err) {
    await abortUpload(ctx, key, uploadId).catch(() => undefined);
    throw err;
  }
}
