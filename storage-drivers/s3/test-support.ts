import type { Rgw } from '../../test/helpers/rgw';
import { withValidation } from '../decorator';
import type { StorageDriver } from '../types';
import { createS3Client, S3Context } from './context';
import { resolveS3Options, type S3DriverOptions } from './options';
import { S3Driver } from './s3-driver';

/** A driver whose client records the name of every command it sends (retries included). */
export function countingDriver(options: S3DriverOptions): { driver: StorageDriver; requests: string[] } {
  const resolved = resolveS3Options(options);
  const client = createS3Client(resolved);
  const requests: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(String(context.commandName));
      return next(args);
    },
    { step: 'finalizeRequest', name: 'berthCountRequests' },
  );
  return { driver: withValidation(new S3Driver(new S3Context(client, resolved), client)), requests };
}

export interface RssMeasure {
  baseline: number;
  peak: number;
  growth: number;
}

/** Samples process RSS every 10 ms while `work` runs. */
export async function measureRss(work: () => Promise<void>): Promise<RssMeasure> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { baseline, peak, growth: peak - baseline };
}

let buckets = 0;

/** Driver options for a fresh bucket on the shared RGW. */
export async function freshOptions(rgw: Rgw, extra: Partial<S3DriverOptions> = {}): Promise<S3DriverOptions> {
  const bucket = `berth-${process.pid}-${++buckets}`;
  await rgw.createBucket(bucket);
  return {
    bucket,
    region: rgw.region,
    regionendpoint: rgw.endpoint,
    forcepathstyle: true,
    accesskey: rgw.accessKey,
    secretkey: rgw.secretKey,
    rootdirectory: '/berth-test',
    ...extra,
  };
}
