import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { withValidation } from '../decorator';
import { PathExistsError } from '../errors';
import type { StorageDriver } from '../types';
import { S3Context } from './context';
import { resolveS3Options } from './options';
import { S3Driver } from './s3-driver';

/**
 * A bucket of a store that refuses conditional writes (501 NotImplemented for `If-None-Match`), as
 * S3-compatible stores without them do: just enough for putContent and getContent.
 */
class NoConditionalsBucket {
  readonly objects = new Map<string, string>();
  /** Each request, as `Command key` (conditional PUTs marked). */
  readonly requests: string[] = [];

  readonly client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
      const { Key, IfNoneMatch, Body } = command.input as { Key: string; IfNoneMatch?: string; Body?: Uint8Array };
      this.requests.push(`${command.constructor.name}${IfNoneMatch ? ' If-None-Match' : ''} ${Key}`);
      switch (command.constructor.name) {
        case 'PutObjectCommand':
          if (IfNoneMatch) throw new S3ServiceException({ name: 'NotImplemented', $fault: 'server', $metadata: { httpStatusCode: 501 }, message: 'A header you provided implies functionality that is not implemented' });
          this.objects.set(Key, Buffer.from(Body!).toString());
          return {};
        case 'HeadObjectCommand':
          if (this.objects.has(Key)) return { ContentLength: this.objects.get(Key)!.length, LastModified: new Date() };
          throw new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'NotFound' });
        default:
          throw new Error(`the fake bucket does not answer ${command.constructor.name}`);
      }
    },
  };

  driver(): StorageDriver {
    const options = resolveS3Options({ bucket: 'fake', region: 'us-east-1' });
    const client = this.client as unknown as S3Client;
    return withValidation(new S3Driver(new S3Context(client, options), client));
  }
}

describe('S3 putContent with ifAbsent on a store without conditional writes', () => {
  it('falls back to a HEAD and a plain PUT: writes where absent, refuses where present', async () => {
    const bucket = new NoConditionalsBucket();
    const driver = bucket.driver();
    await driver.putContent('/repo/link', Buffer.from('first'), { ifAbsent: true });
    assert.equal(bucket.objects.get('repo/link'), 'first');
    await assert.rejects(driver.putContent('/repo/link', Buffer.from('second'), { ifAbsent: true }), PathExistsError);
    assert.equal(bucket.objects.get('repo/link'), 'first');
    assert.deepEqual(bucket.requests, [
      'PutObjectCommand If-None-Match repo/link',
      'HeadObjectCommand repo/link',
      'PutObjectCommand repo/link',
      'PutObjectCommand If-None-Match repo/link',
      'HeadObjectCommand repo/link',
    ]);
  });
});
