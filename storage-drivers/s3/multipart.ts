import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { isMissing, type S3Context } from './context';

export interface Part {
  PartNumber: number;
  ETag: string;
  Size: number;
  /** When S3 stored the part (as listed; parts this process uploaded leave it unset). */
  LastModified?: Date;
}

export async function createUpload(ctx: S3Context, key: string, signal?: AbortSignal): Promise<string> {
  const out = await ctx.send(
    new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, ...ctx.writeOptions }),
    signal,
  );
  if (!out.UploadId) throw new Error(`s3: no upload id for ${key}`);
  return out.UploadId;
}

export async function uploadPart(
  ctx: S3Context,
  key: string,
  uploadId: string,
  partNumber: number,
  body: Buffer,
  signal?: AbortSignal,
): Promise<Part> {
  const out = await ctx.transfer(
    new UploadPartCommand({
      Bucket: ctx.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      Body: body,
      ContentLength: body.length,
    }),
    signal,
  );
  if (!out.ETag) throw new Error(`s3: no ETag for part ${partNumber} of ${key}`);
  return { PartNumber: partNumber, ETag: out.ETag, Size: body.length };
}

/**
 * Parts 1..upTo as S3 lists them (1,000 a page); later parts are leftovers of a failed session.
 * NoSuchUpload (404) when the upload is gone.
 */
export async function listParts(ctx: S3Context, key: string, uploadId: string, upTo: number): Promise<Part[]> {
  const parts: Part[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await ctx.send(
      new ListPartsCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
    );
    for (const p of page.Parts ?? []) {
      if (p.PartNumber !== undefined && p.PartNumber <= upTo && p.ETag) {
        parts.push({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size ?? 0, LastModified: p.LastModified });
      }
    }
    if (!page.IsTruncated || !page.NextPartNumberMarker) return parts;
    marker = page.NextPartNumberMarker;
  }
}

/** False once the upload was completed or aborted. */
export async function uploadExists(ctx: S3Context, key: string, uploadId: string): Promise<boolean> {
  try {
    await ctx.send(new ListPartsCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId, MaxParts: 1 }));
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

export async function completeUpload(ctx: S3Context, key: string, uploadId: string, parts: Part[]): Promise<void> {
  const sorted = [...parts].sort((a, b) => a.PartNumber - b.PartNumber);
  sorted.forEach((p, i) => {
    if (p.PartNumber !== i + 1) throw new Error(`s3: part ${i + 1} of ${key} is missing`);
  });
  // RGW answers with an empty ETag here; nothing below needs it. A transfer: assembling many
  // parts can take S3 a while, during which it sends only keep-alive whitespace.
  await ctx.transfer(
    new CompleteMultipartUploadCommand({
      Bucket: ctx.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: sorted.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
    }),
  );
}

/** Aborting an upload that is already gone is fine. */
export async function abortUpload(ctx: S3Context, key: string, uploadId: string): Promise<void> {
  try {
    await ctx.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}
