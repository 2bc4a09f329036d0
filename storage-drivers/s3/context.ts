import { S3Client, S3ServiceException, type StorageClass } from '@aws-sdk/client-s3';
import type { ResolvedS3Options } from './options';

/**
 * An uncommitted upload keeps its short tail (and the id of its multipart upload) in an object
 * next to the target key. Its name holds `#`, which no valid storage path contains, so it can never
 * collide with content; listings show it as the target path.
 */
export const UPLOAD_SUFFIX = '#upload';

/** What every part of the driver needs: the client, the resolved options, and key mapping. */
export class S3Context {
  constructor(
    readonly client: S3Client,
    readonly options: ResolvedS3Options,
  ) {}

  get bucket(): string {
    return this.options.bucket;
  }

  /** Object key of a (non-root) driver path. */
  key(path: string): string {
    return this.options.rootPrefix + path.slice(1);
  }

  /** Key prefix of everything below a driver path ('' or 'x/' for the root). */
  dirPrefix(path: string): string {
    return path === '/' ? this.options.rootPrefix : `${this.key(path)}/`;
  }

  uploadKey(path: string): string {
    return this.key(path) + UPLOAD_SUFFIX;
  }

  /** Options that every object this driver creates carries. */
  get writeOptions(): { ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string; StorageClass?: StorageClass } {
    return { ...this.options.encryption, StorageClass: this.options.storageClass as StorageClass | undefined };
  }
}

/**
 * The SDK client. Checksums only where an operation requires them: RGW rejects the SDK's default
 * streaming checksums and verifies none. The JavaScript SDK does not read AWS_CA_BUNDLE (the CLI and
 * the Go SDK do); an https endpoint with a private CA needs NODE_EXTRA_CA_CERTS, which Node reads.
 */
export function createS3Client(o: ResolvedS3Options, endpoint = o.endpoint): S3Client {
  return new S3Client({
    region: o.region,
    endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials: o.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // No socket idle timeout: a reader paused by a slow client leaves its S3 socket idle.
    requestHandler: { connectionTimeout: 10_000 },
  });
}

export function httpStatus(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

/** NoSuchKey, NotFound (HEAD has no body), NoSuchUpload. */
export function isMissing(err: unknown): boolean {
  return httpStatus(err) === 404;
}
