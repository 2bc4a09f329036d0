import assert from 'node:assert/strict';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import { acquireRgw, releaseRgw, type Rgw, rgwSkipReason } from '../../test/helpers/rgw';
import { ConcurrentUploadError } from '../errors';
import type { FileWriter, StorageDriver } from '../types';
import { createS3Client, isMissing, S3Context } from './context';
import { createS3Driver } from './index';
import { resolveS3Options, type S3DriverOptions } from './options';
import { freshOptions } from './test-support';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const skip = rgwSkipReason();

/** Resolves once the writer has taken the chunk, i.e. once a full part it completes is stored. */
function write(writer: FileWriter, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => writer.write(chunk, (err) => (err ? reject(err) : resolve())));
}

function end(writer: FileWriter): Promise<void> {
  return new Promise((resolve, reject) => {
    writer.once('error', reject);
    writer.end(() => resolve());
  });
}

async function committedExists(options: S3DriverOptions, path: string): Promise<boolean> {
  const resolved = resolveS3Options(options);
  const ctx = new S3Context(createS3Client(resolved), resolved);
  try {
    await ctx.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: ctx.key(path) }));
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/**
 * Two writers continue one upload from the same offset and store parts 2 and 3 each, so that the
 * stored parts are part 2 of one and part 3 of the other: the same size as either wrote.
 */
async function interleave(driver: StorageDriver, path: string): Promise<{ a: FileWriter; b: FileWriter }> {
  const first = await driver.writer(path, { append: false });
  await write(first, Buffer.alloc(PART, 0x30));
  await end(first);
  const a = await driver.writer(path, { append: true });
  const b = await driver.writer(path, { append: true });
  await write(a, Buffer.alloc(PART, 0x41));
  await write(b, Buffer.alloc(PART, 0x42));
  await write(b, Buffer.alloc(PART, 0x42));
  await write(a, Buffer.alloc(PART, 0x41));
  return { a, b };
}

if (skip) {
  it('S3 parts racing on RGW', { skip }, () => undefined);
} else {
  describe('S3 parts racing on RGW', () => {
    let rgw: Rgw | undefined;
    before(async () => {
      rgw = await acquireRgw();
    });
    after(releaseRgw);

    for (const last of ['a', 'b'] as const) {
      it(`a commit refuses parts that no single writer stored (${last} saved its state last)`, async () => {
        const options = await freshOptions(rgw as Rgw, { chunksize: PART });
        const driver = createS3Driver(options);
        const path = `/uploads/race-${last}/data`;
        const { a, b } = await interleave(driver, path);
        const order = last === 'a' ? [b, a] : [a, b];
        for (const w of order) await end(w);
        assert.equal((await driver.stat(path)).size, 3 * PART, 'the size is what either writer stored');
        const committer = await driver.writer(path, { append: true });
        await assert.rejects(committer.commit(), ConcurrentUploadError);
        assert.equal(await committedExists(options, path), false, 'nothing was committed');
        await driver.delete('/uploads');
      });
    }
  });
}
