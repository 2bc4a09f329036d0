import { after, before, describe } from 'node:test';
import { createS3Driver } from '../../storage-drivers/s3';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { leaseScenarios } from '../gc/lease-scenarios';
import { berthS3Env } from './berth-on-s3';

const skip = rgwSkipReason();

/** The GC lease on RGW: If-None-Match: * on PutObject is what makes it exclusive there. */
describe('the GC lease on S3 (RGW)', { skip, timeout: 240_000 }, () => {
  let rgw: Rgw;
  const bucket = `berth-gc-lease-${process.pid}`;
  before(async () => {
    rgw = await acquireRgw();
    await rgw.createBucket(bucket);
  });
  after(async () => {
    if (rgw) await releaseRgw();
  });
  leaseScenarios(() => ({
    driver: () =>
      createS3Driver({ bucket, region: rgw.region, regionendpoint: rgw.endpoint, forcepathstyle: true, accesskey: rgw.accessKey, secretkey: rgw.secretKey }),
    env: () => berthS3Env(rgw, bucket, { redirect: false }),
  }));
});
