import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { isMissing, type S3Context } from './context';

/**
 * What an uncommitted upload has stored between writer sessions: `parts` full parts of a multipart
 * upload (`partBytes` bytes; only the parts numbered 1..parts count) and a tail shorter than the
 * next part, kept as the body of the upload object. The upload object is rewritten only after
 * everything it names is stored, so it always describes a consistent prefix of the upload.
 *
 * `chain` fingerprints the ETags of parts 1..parts as the writers that stored them saw them
 * (partChain): two writers continuing from one point store the same part numbers over each other,
 * and a commit compares the listed parts with it. Undefined in an upload object written before
 * Berth recorded it. `version` names one write of the upload object (random): the content it
 * describes, tail included, for a running hash to be bound to.
 */
export interface UploadState {
  uploadId?: string;
  parts: number;
  partBytes: number;
  tail: Buffer;
  chain?: string;
  version?: string;
}

/** The chain after part `partNumber` with `etag` was stored; '' is the chain of no parts. */
export function extendChain(chain: string, partNumber: number, etag: string): string {
  // Quoted or not, as the request gave it: RGW quotes it in ListParts, not in UploadPartCopy.
  const bare = etag.replace(/^"(.*)"$/, '$1');
  return createHash('sha256').update(`${chain}\n${partNumber}\n${bare}`).digest('hex');
}

export function partChain(parts: { PartNumber: number; ETag: string }[], from = ''): string {
  return parts.reduce((chain, p) => extendChain(chain, p.PartNumber, p.ETag), from);
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
const CHAIN = 'berth-part-chain';
const VERSION = 'berth-version';

function parse(meta: Record<string, string> | undefined): Omit<UploadState, 'tail'> {
  const parts = Number(meta?.[PARTS] ?? 0);
  const partBytes = Number(meta?.[BYTES] ?? 0);
  if (!Number.isSafeInteger(parts) || !Number.isSafeInteger(partBytes)) throw new Error('s3: corrupt upload state');
  const uploadId = meta?.[ID] || undefined;
  // Some stores drop empty metadata: no parts is the empty chain however it was stored.
  const chain = meta?.[CHAIN] || (parts === 0 ? '' : undefined);
  return { uploadId, parts, partBytes, chain, version: meta?.[VERSION] };
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

/** Returns the version it wrote. */
export async function saveUploadState(
  ctx: S3Context,
  path: string,
  state: Omit<UploadState, 'version'>,
  signal?: AbortSignal,
): Promise<string> {
  const version = randomUUID();
  const Metadata: Record<string, string> = {
    [PARTS]: String(state.parts),
    [BYTES]: String(state.partBytes),
    [CHAIN]: state.chain ?? '',
    [VERSION]: version,
  };
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
  return version;
}

export async function dropUploadState(ctx: S3Context, path: string): Promise<void> {
  await ctx.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.uploadKey(path) }));
}
