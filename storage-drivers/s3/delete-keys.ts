import { DeleteObjectsCommand, HeadObjectCommand, type _Error as KeyError } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMissing, type S3Context } from './context';

/** Pauses before each new attempt for the keys a batch delete reported as failed. */
const RETRY_DELAYS_MS = [50, 200, 800];

/**
 * Deletes keys, 1,000 a request. DeleteObjects answers per key, and RGW fails some keys of a batch
 * (InternalError) while other requests write next to them, deleting the rest: the failed keys are
 * sent again after a pause, a few times. A key already gone counts as deleted, and so does one that
 * failed every attempt but is gone when looked at; only keys still there are reported.
 */
export async function deleteKeys(ctx: S3Context, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) await deleteBatch(ctx, keys.slice(i, i + 1000));
}

async function deleteBatch(ctx: S3Context, batch: string[]): Promise<void> {
  let pending = batch;
  let failed: KeyError[];
  for (let attempt = 0; ; attempt++) {
    const out = await ctx.send(
      new DeleteObjectsCommand({ Bucket: ctx.bucket, Delete: { Objects: pending.map((Key) => ({ Key })), Quiet: true } }),
    );
    failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length === 0) return;
    if (attempt === RETRY_DELAYS_MS.length) break;
    // An error that names no key leaves no way to tell which key it was about: all are sent again.
    if (failed.every((e) => e.Key !== undefined)) pending = failed.map((e) => e.Key!);
    await sleep(RETRY_DELAYS_MS[attempt]);
  }
  const named = failed.filter((e) => e.Key !== undefined);
  const present = named.length < failed.length ? pending : await stillThere(ctx, named.map((e) => e.Key!));
  if (present.length === 0) return;
  const why = new Map(failed.map((e) => [e.Key, `${e.Code} ${e.Message}`]));
  const shown = present.slice(0, 5).map((k) => `${k} (${why.get(k) ?? why.get(undefined)})`);
  throw new Error(`s3: could not delete ${present.length} key(s) in ${RETRY_DELAYS_MS.length + 1} attempts: ${shown.join(', ')}`);
}

async function stillThere(ctx: S3Context, keys: string[]): Promise<string[]> {
  const present: string[] = [];
  for (let i = 0; i < keys.length; i += 32) {
    const found = await Promise.all(
      keys.slice(i, i + 32).map((Key) =>
        ctx.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key })).then(
          () => Key,
          (err: unknown) => {
            if (isMissing(err)) return undefined;
            throw err;
          },
        ),
      ),
    );
    for (const k of found) if (k !== undefined) present.push(k);
  }
  return present;
}
