/**
 * Options of the S3 driver. The keys are those of Distribution's `storage.s3` section, so a
 * Distribution config (and its REGISTRY_STORAGE_S3_* overrides) maps onto them one to one. Sizes
 * are bytes. The last group has no Distribution counterpart.
 */
export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** Endpoint of an S3-compatible service (RGW, MinIO, ...); a bare host gets http(s) from `secure`. */
  regionendpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible services need. */
  forcepathstyle?: boolean;
  /** Key prefix under which everything lives; no leading or trailing slash needed. */
  rootdirectory?: string;
  /** Static credentials; without them the SDK's default chain (environment, profile, instance role) is used. */
  accesskey?: string;
  secretkey?: string;
  sessiontoken?: string;
  /** https (true, default) or http for a `regionendpoint` given without a scheme. */
  secure?: boolean;
  /** Smallest multipart part; parts grow from here with the upload's size. Default 10 MiB, at least 5 MiB. */
  chunksize?: number;
  /** Objects larger than this are moved with parallel UploadPartCopy instead of one CopyObject. Default 32 MiB. */
  multipartcopythresholdsize?: number;
  /** Part size of a multipart copy. Default 32 MiB. */
  multipartcopychunksize?: number;
  /** Parts of one multipart copy in flight at once. Default 100. */
  multipartcopymaxconcurrency?: number;
  /** Server-side encryption: AES256, or aws:kms when `keyid` is set. */
  encrypt?: boolean;
  keyid?: string;
  /** Storage class of new objects. Default STANDARD; NONE sends no storage class (for services that reject it). */
  storageclass?: string;

  /** Berth: hand out presigned URLs for blob GET/HEAD (default true); false makes redirectUrl answer null. */
  redirect?: boolean;
  /** Berth: endpoint that clients reach, used only to presign redirect URLs (default: regionendpoint). */
  publicendpoint?: string;
  /**
   * Berth: milliseconds one S3 request may take, retries included, before it fails as "storage is
   * unavailable" (default 30 s). Requests that move blob bytes (part uploads, copies, a blob's
   * download) may take longer: they fail only after this long without progress.
   */
  requesttimeout?: number;
  /** Berth: milliseconds to establish a connection to the endpoint (default 5 s). */
  connecttimeout?: number;
}

const MiB = 1024 * 1024;
export const MIN_CHUNK_SIZE = 5 * MiB;
export const MAX_CHUNK_SIZE = 5 * 1024 * MiB;

export interface ResolvedS3Options {
  bucket: string;
  region: string;
  endpoint?: string;
  publicEndpoint?: string;
  forcePathStyle: boolean;
  /** '' or 'some/prefix/' */
  rootPrefix: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  chunkSize: number;
  copyThreshold: number;
  copyChunkSize: number;
  copyConcurrency: number;
  encryption: { ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string };
  storageClass?: string;
  redirect: boolean;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
}

function endpointUrl(value: string | undefined, secure: boolean): string | undefined {
  if (value === undefined || value === '') return undefined;
  return /^https?:\/\//.test(value) ? value : `${secure ? 'https' : 'http'}://${value}`;
}

function size(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new Error(`s3: ${name} must be an integer between ${min} and ${max}, got ${value}`);
  }
  return v;
}

/** Validates the options and fills in Distribution's defaults. */
export function resolveS3Options(o: S3DriverOptions): ResolvedS3Options {
  if (!o.bucket) throw new Error('s3: bucket is required');
  if (!o.region) throw new Error('s3: region is required');
  if ((o.accesskey === undefined) !== (o.secretkey === undefined)) {
    throw new Error('s3: accesskey and secretkey go together');
  }
  const secure = o.secure ?? true;
  const root = (o.rootdirectory ?? '').replace(/^\/+|\/+$/g, '');
  const storageClass = o.storageclass ?? 'STANDARD';
  return {
    bucket: o.bucket,
    region: o.region,
    endpoint: endpointUrl(o.regionendpoint, secure),
    publicEndpoint: endpointUrl(o.publicendpoint, secure),
    forcePathStyle: o.forcepathstyle ?? false,
    rootPrefix: root === '' ? '' : `${root}/`,
    credentials:
      o.accesskey !== undefined && o.secretkey !== undefined
        ? { accessKeyId: o.accesskey, secretAccessKey: o.secretkey, sessionToken: o.sessiontoken }
        : undefined,
    chunkSize: size('chunksize', o.chunksize, 10 * MiB, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE),
    copyThreshold: size('multipartcopythresholdsize', o.multipartcopythresholdsize, 32 * MiB, 0, MAX_CHUNK_SIZE),
    copyChunkSize: size('multipartcopychunksize', o.multipartcopychunksize, 32 * MiB, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE),
    copyConcurrency: size('multipartcopymaxconcurrency', o.multipartcopymaxconcurrency, 100, 1, 10_000),
    encryption: o.encrypt
      ? o.keyid
        ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: o.keyid }
        : { ServerSideEncryption: 'AES256' }
      : {},
    storageClass: storageClass.toUpperCase() === 'NONE' ? undefined : storageClass,
    redirect: o.redirect ?? true,
    requestTimeoutMs: size('requesttimeout', o.requesttimeout, 30_000, 1, 24 * 3_600_000),
    connectTimeoutMs: size('connecttimeout', o.connecttimeout, 5_000, 1, 3_600_000),
  };
}
