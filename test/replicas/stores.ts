import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import { createS3Driver } from '../../storage-drivers/s3';
import type { StorageDriver } from '../../storage-drivers/types';
import { MAIN_JS } from '../helpers/berth-process';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';

/** A store several replicas share: the environment that points a Berth process at it. */
export interface SharedStore {
  env: Record<string, string>;
  /** A driver of this process on the store, to look at (or check) what the replicas stored. */
  driver(): StorageDriver;
  cleanup(): Promise<void>;
}

export interface StoreKind {
  name: string;
  /** Blob GETs answer 307 to the store itself instead of streaming through Berth. */
  redirects: boolean;
  /** Why this kind cannot run here, or false. */
  unavailable(): Promise<string | false>;
  create(): Promise<SharedStore>;
}

export const filesystemStore: StoreKind = {
  name: 'filesystem',
  redirects: false,
  unavailable: async () => false,
  async create() {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-replicas-fs-'));
    return {
      env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dir },
      driver: () => createFilesystemDriver({ rootDirectory: dir }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

// This file compiles to dist/test/replicas/, beside dist/storage-drivers/.
const S3_DRIVER_JS = path.resolve(__dirname, '..', '..', 'storage-drivers', 's3', 'index.js');

function s3Env(rgw: Pick<Rgw, 'endpoint' | 'accessKey' | 'secretKey' | 'region'>, bucket: string, redirect: boolean): Record<string, string> {
  return {
    REGISTRY_STORAGE: 's3',
    REGISTRY_STORAGE_S3_BUCKET: bucket,
    REGISTRY_STORAGE_S3_REGIONENDPOINT: rgw.endpoint,
    REGISTRY_STORAGE_S3_FORCEPATHSTYLE: 'true',
    REGISTRY_STORAGE_S3_ACCESSKEY: rgw.accessKey,
    REGISTRY_STORAGE_S3_SECRETKEY: rgw.secretKey,
    REGISTRY_STORAGE_S3_REGION: rgw.region,
    REGISTRY_STORAGE_REDIRECT_DISABLE: String(!redirect),
  };
}

/** Whether this build's Berth accepts an S3 configuration, asked of `berth config check` itself. */
function configAcceptsS3(): Promise<string | false> {
  const env = {
    ...process.env,
    ...s3Env({ endpoint: 'http://127.0.0.1:1', accessKey: 'probe-access', secretKey: 'probe-secret', region: 'us-east-1' }, 'probe', false),
    REGISTRY_HTTP_SECRET: '0123456789abcdef0123',
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN_JS, 'config', 'check'], { env, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve(err ? `berth config check refuses REGISTRY_STORAGE=s3: ${(stderr || stdout || err.message).trim().slice(0, 500)}` : false),
    );
  });
}

async function emptyAndDeleteBucket(rgw: Rgw, bucket: string): Promise<void> {
  const client = new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    for (;;) {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

let buckets = 0;

/**
 * A bucket on the file's shared RGW (test/helpers/rgw.ts). `redirect` lets blob GETs answer 307 to
 * presigned RGW URLs; without it Berth streams the bytes, so they pass through the proxy.
 */
export function s3Store(redirect: boolean): StoreKind {
  return {
    name: redirect ? 's3 (presigned redirects)' : 's3',
    redirects: redirect,
    async unavailable() {
      if (!existsSync(S3_DRIVER_JS)) return `the S3 driver is not built (${S3_DRIVER_JS} is missing)`;
      let tools: string | false;
      try {
        tools = rgwSkipReason();
      } catch (e) {
        tools = (e as Error).message;
      }
      if (tools) return `Ceph RGW cannot run here: ${tools}`;
      return configAcceptsS3();
    },
    async create() {
      const rgw = await acquireRgw();
      const bucket = `berth-replicas-${process.pid}-${++buckets}`;
      try {
        await rgw.createBucket(bucket);
      } catch (e) {
        await releaseRgw();
        throw e;
      }
      return {
        env: s3Env(rgw, bucket, redirect),
        driver: () =>
          createS3Driver({
            bucket,
            region: rgw.region,
            regionendpoint: rgw.endpoint,
            forcepathstyle: true,
            accesskey: rgw.accessKey,
            secretkey: rgw.secretKey,
          }),
        async cleanup() {
          try {
            // memstore keeps objects in RAM for as long as the shared RGW lives.
            await emptyAndDeleteBucket(rgw, bucket);
          } finally {
            await releaseRgw();
          }
        },
      };
    },
  };
}
