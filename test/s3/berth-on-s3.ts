import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import type { Rgw } from '../helpers/rgw';

/** Where an S3 server answers and how to sign for it (an Rgw, or a proxy in front of one). */
export type S3Endpoint = Pick<Rgw, 'endpoint' | 'accessKey' | 'secretKey' | 'region'>;

export interface BerthOnS3 {
  berth: BerthProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the registry part of image references */
  host: string;
  bucket: string;
  /** An S3 client on the same bucket, to look at what Berth stored. */
  s3: S3Client;
  /** Every key in the bucket starting with `prefix`, in S3's order. */
  keys(prefix?: string): Promise<string[]>;
  /** Multipart uploads still open in the bucket (key of each). */
  openMultipartUploads(): Promise<string[]>;
  /** Berth's JSON access-log lines so far. */
  accessLog(): AccessLine[];
  /** Stops Berth, then empties and deletes the bucket. */
  stop(): Promise<void>;
}

export interface AccessLine {
  method: string;
  url: string;
  status: number;
  route?: string;
}

export function s3Client(s3: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The environment that points a Berth process at `bucket`. */
export function berthS3Env(s3: S3Endpoint, bucket: string, opts: { redirect: boolean; publicEndpoint?: string }): Record<string, string> {
  const env: Record<string, string> = {
    REGISTRY_STORAGE: 's3',
    REGISTRY_STORAGE_S3_BUCKET: bucket,
    REGISTRY_STORAGE_S3_REGIONENDPOINT: s3.endpoint,
    REGISTRY_STORAGE_S3_FORCEPATHSTYLE: 'true',
    REGISTRY_STORAGE_S3_ACCESSKEY: s3.accessKey,
    REGISTRY_STORAGE_S3_SECRETKEY: s3.secretKey,
    REGISTRY_STORAGE_S3_REGION: s3.region,
    REGISTRY_STORAGE_REDIRECT_DISABLE: String(!opts.redirect),
    REGISTRY_HTTP_SECRET: 'berth-s3-tests-shared-secret-0001',
  };
  if (opts.publicEndpoint) env.REGISTRY_STORAGE_S3_PUBLICENDPOINT = opts.publicEndpoint;
  return env;
}

export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function openUploads(client: S3Client, bucket: string): Promise<{ Key: string; UploadId: string }[]> {
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (listed.Uploads ?? []).map((u) => ({ Key: u.Key!, UploadId: u.UploadId! }));
}

/** Deletes every object and open multipart upload, then the bucket: RGW's memstore keeps it all in RAM. */
export async function destroyBucket(client: S3Client, bucket: string): Promise<void> {
  for (const u of await openUploads(client, bucket)) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...u }));
  for (;;) {
    const keys = await listKeys(client, bucket);
    if (keys.length === 0) break;
    for (let i = 0; i < keys.length; i += 1000)
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export function parseAccessLog(logs: string): AccessLine[] {
  const lines: AccessLine[] = [];
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; method?: string; url?: string; status?: number; route?: string };
      if (rec.msg === 'request' && typeof rec.method === 'string' && typeof rec.url === 'string' && typeof rec.status === 'number')
        lines.push({ method: rec.method, url: rec.url, status: rec.status, route: rec.route });
    } catch {
      // not a log record
    }
  }
  return lines;
}

let buckets = 0;

/**
 * A Berth process on a fresh bucket of `rgw`. `endpoint` overrides where Berth sends its S3
 * requests (a counting proxy); the bucket is created and removed through `rgw` itself.
 */
export async function startBerthOnS3(
  rgw: S3Endpoint & Pick<Rgw, 'createBucket'>,
  opts: { redirect: boolean; endpoint?: string; publicEndpoint?: string; env?: Record<string, string> },
): Promise<BerthOnS3> {
  const bucket = `berth-s3-${process.pid}-${++buckets}-${Date.now() % 100000}`;
  await rgw.createBucket(bucket);
  const client = s3Client(rgw);
  let berth: BerthProcess;
  try {
    berth = await startBerthProcess({
      env: { ...berthS3Env({ ...rgw, endpoint: opts.endpoint ?? rgw.endpoint }, bucket, opts), ...opts.env },
    });
  } catch (e) {
    await destroyBucket(client, bucket).catch(() => undefined);
    client.destroy();
    throw e;
  }
  return {
    berth,
    url: berth.url,
    host: new URL(berth.url).host,
    bucket,
    s3: client,
    keys: (prefix) => listKeys(client, bucket, prefix),
    openMultipartUploads: async () => (await openUploads(client, bucket)).map((u) => u.Key),
    accessLog: () => parseAccessLog(berth.logs()),
    async stop() {
      try {
        await berth.stop();
        await destroyBucket(client, bucket);
      } finally {
        client.destroy();
      }
    },
  };
}
