import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isMissing, type S3Context } from './context';

/**
 * What an uncommitted upload has stored between writer sessions: `parts` full parts of a multipart
 * upload (`partBytes` bytes; only the parts numbered 1..parts count) and a tail shorter than the
 * next part, kept as the body of the upload object. The upload object is rewritten only after
 * everything it names is stored, so it always describes a consistent prefix of the upload.
 */
export interface UploadState {
  uploadId?: string;
  parts: number;
  partBytes: number;
  tail: Buffer;
}

export interface UploadInfo {
  uploadId?: string;
  parts: number;
  size: number;
  modTime: Date;
}

const ID = 'berth-upload-id';
const PARTS = 'berth-parts';
const BYTES = 'berth-part-bytes';

function parse(meta: Record<string, string> | undefined): { uploadId?: string; parts: number; partBytes: number } {
  const parts = Number(meta?.[PARTS] ?? 0);
  const partBytes = Number(meta?.[BYTES] ?? 0);
  if (!Number.isSafeInteger(parts) || !Number.isSafeInteger(partBytes)) throw new Error('s3: corrupt upload state');
  const uploadId = meta?.[ID] || undefined;
  return { uploadId, parts, partBytes };
}

export async function loadUploadState(ctx: S3Context, path: string, signal?: AbortSignal): Promise<UploadState | undefined> {
  try {
    // The tail can be as large as a part: a transfer, not a small request.
    const got = await ctx.transfer(new GetObjectCommand({ Bucket: ctx.bucket, Key: ctx.uploadKey(path) }), signal);
    const tail = Buffer.from(await got.Body!.transformToByteArray());
    return { ...parse(got.Metadata), tail };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export async function headUploadState(ctx: S3Context, path: string): Promise<UploadInfo | undefined> {
  try {
    const head = await ctx.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: ctx.uploadKey(path) }));
    const state = parse(head.Metadata);
    return {
      uploadId: state.uploadId,
      parts: state.parts,
      size: state.partBytes + (head.ContentLength ?? 0),
      modTime: head.LastModified ?? new Date(),
    };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export async function saveUploadState(ctx: S3Context, path: string, state: UploadState, signal?: AbortSignal): Promise<void> {
  const Metadata: Record<string, string> = { [PARTS]: String(state.parts), [BYTES]: String(state.partBytes) };
  if (state.uploadId !== undefined) Metadata[ID] = state.uploadId;
  await ctx.transfer(
    new PutObjectCommand({
      Bucket: ctx.bucket,
      Key: ctx.uploadKey(path),
      Body: state.tail,
      ContentLength: state.tail.length,
      Metadata,
      ...ctx.options.encryption,
    }),
    signal,
  );
}

export async function dropUploadState(ctx: S3Context, path: string): Promise<void> {
  await ctx.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.uploadKey(path) }));
}
