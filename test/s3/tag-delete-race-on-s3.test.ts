import { after, before, describe, it } from 'node:test';
import { createS3Driver } from '../../storage-drivers/s3';
import { freshOptions } from '../../storage-drivers/s3/test-support';
import type { StorageDriver } from '../../storage-drivers/types';
import { deleteBetweenPushWrites, digestDeleteBeforePushTags, pushElsewhereWhileDigestDeleteHeld, pushWhileDeleteHeld, pushWhileDigestDeleteHeld } from '../api/tag-delete-race';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { destroyBucket, s3Client } from './berth-on-s3';

const skip = rgwSkipReason();

/** test/api/tag-delete-race.ts on a bucket of a real RGW, through a registry in this process. */
describe('a tag delete racing a push of the same tag (S3, RGW)', { skip, timeout: 180_000 }, () => {
  let rgw: Rgw;
  const buckets: string[] = [];
  const open = async (): Promise<StorageDriver> => {
    const options = await freshOptions(rgw);
    buckets.push(options.bucket);
    return createS3Driver({ ...options, redirect: false });
  };
  before(async () => {
    rgw = await acquireRgw();
  });
  after(async () => {
    const client = s3Client(rgw);
    for (const bucket of buckets) await destroyBucket(client, bucket).catch(() => undefined);
    client.destroy();
    await releaseRgw();
  });

  it("a DELETE by tag answered between the push's current and index links leaves the acknowledged tag", async () => deleteBetweenPushWrites(await open(), 'by tag'));
  it("a DELETE by digest answered between the push's current and index links leaves the re-pushed tag and manifest", async () =>
    deleteBetweenPushWrites(await open(), 'by digest'));
  it('a push answered while the DELETE by tag is held before its removal: the tag is gone, nothing listed', async () => pushWhileDeleteHeld(await open()));
  it('a push of the same manifest answered while the DELETE by digest is held before the revision goes: no tag is left naming it', async () =>
    pushWhileDigestDeleteHeld(await open()));
  it("a DELETE by digest answered between a push's revision link and its tag: the tag and the revision stay", async () =>
    digestDeleteBeforePushTags(await open()));
  // Held before the delete's GET of the current link: RGW's window (between that GET and the DELETE) is not entered.
  it('a push of the tag to another manifest answered while a DELETE by digest is held after reading the tag: the tag stays with the push', async () =>
    pushElsewhereWhileDigestDeleteHeld(await open()));
});
