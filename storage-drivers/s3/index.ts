import { type DecoratorOptions, withValidation } from '../decorator';
import type { StorageDriver } from '../types';
import { createS3Client, S3Context } from './context';
import { ObjectDownloads } from './object-download';
import { resolveS3Options, type S3DriverOptions } from './options';
import { RawConnectionPool } from './raw-connection';
import { RequestSigner } from './request-signer';
import { S3Driver } from './s3-driver';
import { SmallRequests } from './small-requests';

export type { S3DriverOptions } from './options';

/** A driver that stores each path as an object in an S3 bucket (AWS, Ceph RGW, MinIO, ...). */
export function createS3Driver(options: S3DriverOptions & DecoratorOptions): StorageDriver {
  const resolved = resolveS3Options(options);
  const client = createS3Client(resolved);
  const downloads = createS3Client(resolved, { idleTimeout: false });
  const presigner = resolved.publicEndpoint ? createS3Client(resolved, { endpoint: resolved.publicEndpoint }) : client;
  const direct = new ObjectDownloads(downloads, resolved.bucket, resolved.requestTimeoutMs, resolved.connectTimeoutMs);
  const small = new SmallRequests(new RequestSigner(client, resolved.bucket), new RawConnectionPool(resolved.connectTimeoutMs), resolved.requestTimeoutMs);
  return withValidation(new S3Driver(new S3Context(client, resolved, downloads, direct, small), presigner), options);
}
