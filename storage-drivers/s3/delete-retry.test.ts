import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { withValidation } from '../decorator';
import type { StorageDriver } from '../types';
import { S3Context } from './context';
import { resolveS3Options } from './options';
import { S3Driver } from './s3-driver';

interface KeyError {
  Key: string;
  Code: string;
  Message: string;
}

/**
 * Just enough of a bucket for delete(): its keys, and DeleteObjects answers that report chosen keys
 * as failed (left in place unless `vanish`), the way RGW does under concurrent writes.
 */
class FakeBucket {
  readonly keys = new Set<string>();
  /** The keys of each DeleteObjects request, in order. */
  readonly deleteRequests: string[][] = [];

  constructor(
    /** Per key: how many DeleteObjects requests fail it (Infinity: every one). */
    private readonly failures: Map<string, number>,
    /** Failed keys are gone all the same (another request deleted them meanwhile). */
    private readonly vanish = false,
  ) {}

  readonly client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
      const input = command.input;
      switch (command.constructor.name) {
        case 'ListMultipartUploadsCommand':
          return { Uploads: [], IsTruncated: false };
        case 'HeadObjectCommand':
          if (this.keys.has(input.Key as string)) return { ContentLength: 1 };
          throw new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'NotFound' });
        case 'ListObjectsV2Command': {
          const prefix = input.Prefix as string;
          return { Contents: [...this.keys].filter((k) => k.startsWith(prefix)).sort().map((Key) => ({ Key })), IsTruncated: false };
        }
        case 'DeleteObjectsCommand':
          return this.deleteObjects((input.Delete as { Objects: { Key: string }[] }).Objects.map((o) => o.Key));
        default:
          throw new Error(`the fake bucket does not answer ${command.constructor.name}`);
      }
    },
  };

  private deleteObjects(keys: string[]): { Errors: KeyError[] } {
    this.deleteRequests.push(keys);
    const Errors: KeyError[] = [];
    for (const key of keys) {
      const left = this.failures.get(key) ?? 0;
      if (left > 0) {
        this.failures.set(key, left - 1);
        Errors.push({ Key: key, Code: 'InternalError', Message: 'We encountered an internal error. Please try again.' });
        if (this.vanish) this.keys.delete(key);
      } else {
        this.keys.delete(key);
      }
    }
    return { Errors };
  }

  driver(): StorageDriver {
    const options = resolveS3Options({ bucket: 'fake', region: 'us-east-1' });
    const client = this.client as unknown as S3Client;
    return withValidation(new S3Driver(new S3Context(client, options), client));
  }
}

const KEYS = ['repo/_manifests/revisions/sha256/ab/link', 'repo/_manifests/tags/t/current/link', 'repo/_manifests/tags/t/index/sha256/ab/link'];

describe('S3 delete and per-key errors of DeleteObjects', () => {
  it('sends the keys that failed again until they are deleted', async () => {
    const bucket = new FakeBucket(new Map([[KEYS[1], 2]]));
    for (const k of KEYS) bucket.keys.add(k);
    await bucket.driver().delete('/repo');
    assert.deepEqual([...bucket.keys], []);
    // The directory's own key and upload object go with the first batch (absent keys are no error).
    assert.deepEqual(bucket.deleteRequests, [[...KEYS, 'repo', 'repo#upload'], [KEYS[1]], [KEYS[1]]], 'only the failed key is sent again');
  });

  it('counts a failed key that is gone as deleted', async () => {
    const bucket = new FakeBucket(new Map([[KEYS[0], Infinity]]), true);
    for (const k of KEYS) bucket.keys.add(k);
    await bucket.driver().delete('/repo');
    assert.deepEqual([...bucket.keys], []);
  });

  it('gives up after a few attempts and names only the keys still there', async () => {
    const bucket = new FakeBucket(new Map([[KEYS[2], Infinity]]));
    for (const k of KEYS) bucket.keys.add(k);
    await assert.rejects(bucket.driver().delete('/repo'), (err: Error) => {
      assert.match(err.message, /index\/sha256\/ab\/link/);
      assert.doesNotMatch(err.message, /current\/link|revisions/);
      return true;
    });
    assert.deepEqual([...bucket.keys], [KEYS[2]]);
    const attempts = bucket.deleteRequests.length;
    assert.ok(attempts >= 3 && attempts <= 6, `${attempts} DeleteObjects requests`);
  });
});
