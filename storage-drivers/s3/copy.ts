import { CopyObjectCommand, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import type { S3Context } from './context';
import { copyRanges, needsMultipartCopy } from './limits';
import { abortUpload, completeUpload, createUpload, type Part } from './multipart';

function copySource(ctx: S3Context, key: string): string {
  return `${ctx.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Copies an object inside the bucket without its bytes passing through this process: one
 * CopyObject up to the threshold (never beyond S3's 5 GiB limit), else parallel UploadPartCopy.
 * Both are transfers: the service copies bytes for as long as the object is large.
 */
export async function copyObject(ctx: S3Context, srcKey: string, dstKey: string, size: number): Promise<void> {
  const o = ctx.options;
  if (!needsMultipartCopy(size, o.copyThreshold)) {
    await ctx.transfer(
      new CopyObjectCommand({ Bucket: ctx.bucket, Key: dstKey, CopySource: copySource(ctx, srcKey), ...ctx.writeOptions }),
    );
    return;
  }
  const uploadId = await createUpload(ctx, dstKey);
  try {
    const parts = await copyParts(ctx, srcKey, dstKey, uploadId, copyRanges(size, o.copyChunkSize));
    await completeUpload(ctx, dstKey, uploadId, parts);
  } catch (err) {
    await abortUpload(ctx, dstKey, uploadId).catch(() => undefined);
    throw err;
  }
}

/** Copies each range of `srcKey` as part 1, 2, … of the multipart upload `uploadId` of `dstKey`, in parallel. */
export async function copyParts(
  ctx: S3Context,
  srcKey: string,
  dstKey: string,
  uploadId: string,
  ranges: [number, number][],
  signal?: AbortSignal,
): Promise<Part[]> {
  const parts = new Array<Part>(ranges.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ranges.length) {
      const index = next++;
      const [start, end] = ranges[index];
      const out = await ctx.transfer(
        new UploadPartCopyCommand({
          Bucket: ctx.bucket,
          Key: dstKey,
          UploadId: uploadId,
          PartNumber: index + 1,
          CopySource: copySource(ctx, srcKey),
          CopySourceRange: `bytes=${start}-${end}`,
        }),
        signal,
      );
      const etag = out.CopyPartResult?.ETag;
      if (!etag) throw new Error(`s3: no ETag for copied part ${index + 1} of ${dstKey}`);
      parts[index] = { PartNumber: index + 1, ETag: etag, Size: end - start + 1 };
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.options.copyConcurrency, ranges.length) }, worker));
  return parts;
}
