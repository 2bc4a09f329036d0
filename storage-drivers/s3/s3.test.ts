import { after, before, describe, it } from 'node:test';
import { acquireRgw, releaseRgw, type Rgw, rgwSkipReason } from '../../test/helpers/rgw';
import { runDriverSuite } from '../testsuite/driver-suite';
import { createS3Driver } from './index';
import { downloadTests } from './download-tests';
import { rgwTests } from './rgw-tests';
import { freshOptions } from './test-support';

const skip = rgwSkipReason();
if (skip) {
  it('S3 driver on RGW', { skip }, () => undefined);
} else {
  describe('S3 driver on RGW', () => {
    // One RGW for the whole file: the driver suite and the S3-specific tests each take a bucket.
    let rgw: Rgw | undefined;
    before(async () => {
      rgw = await acquireRgw();
      console.log(`RGW started in ${rgw.startMs} ms`);
    });
    after(releaseRgw);

    runDriverSuite(
      's3',
      async () => {
        const shared = await acquireRgw();
        return { driver: createS3Driver(await freshOptions(shared)), cleanup: releaseRgw };
      },
      { redirects: true, racyConditionalDelete: true },
    );

    describe('S3-specific behaviour', () => {
      rgwTests((extra) => freshOptions(rgw as Rgw, extra), () => rgw as Rgw);
    });

    describe('downloads', () => {
      downloadTests((extra) => freshOptions(rgw as Rgw, extra), () => rgw as Rgw);
    });
  });
}
