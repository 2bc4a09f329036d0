import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { withValidation } from '../decorator';
import type { StorageDriver } from '../types';
import { S3Context } from './context';
import { resolveS3Options } from './options';
import { S3Driver } from './s3-driver';

function s3Error(status: number, name: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });
}

/**
 * One key's worth of a bucket for deleteIf: GetObject answers its bytes and ETag, DeleteObject
 * honours `If-Match` (412 on another ETag), refuses it (501), or ignores it, as stores differ.
 */
class FakeObject {
  etag = '"1"';
  /** Runs between the GET and the DELETE: a writer landing there. */
  between: (() => void) | undefined;
  readonly deletes: (string | undefined)[] = [];

  constructor(
    public content: Buffer | null,
    private readonly ifMatch: 'honoured' | 'refused' | 'ignored',
  ) {}

  put(content: Buffer): void {
    this.content = content;
    this.etag = `"${Number(this.etag.slice(1, -1)) + 1}"`;
  }

  readonly client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
      switch (command.constructor.name) {
        case 'GetObjectCommand': {
          if (this.content === null) throw s3Error(404, 'NoSuchKey');
          const bytes = new Uint8Array(this.content);
          const answer = { ETag: this.etag, Body: { transformToByteArray: async () => bytes } };
          this.between?.();
          return answer;
        }
        case 'DeleteObjectCommand': {
          const ifMatch = command.input.IfMatch as string | undefined;
          this.deletes.push(ifMatch);
          if (ifMatch !== undefined && this.ifMatch === 'refused') throw s3Error(501, 'NotImplemented');
          if (ifMatch !== undefined && this.ifMatch === 'honoured' && ifMatch !== this.etag) throw s3Error(412, 'PreconditionFailed');
          this.content = null;
          return {};
        }
        default:
          throw new Error(`the fake object does not answer ${command.constructor.name}`);
      }
    },
  };

  driver(): StorageDriver {
    const options = resolveS3Options({ bucket: 'fake', region: 'us-east-1' });
    const client = this.client as unknown as S3Client;
    return withValidation(new S3Driver(new S3Context(client, options), client));
  }
}

const LINK = '/repo/_manifests/tags/t/current/link';

describe('S3 deleteIf', () => {
  it('deletes with If-Match on the ETag it read, and sends no delete for other content', async () => {
    const object = new FakeObject(Buffer.from('sha256:aa'), 'honoured');
    assert.equal(await object.driver().deleteIf(LINK, Buffer.from('sha256:bb')), false);
    assert.deepEqual(object.deletes, []);
    assert.equal(await object.driver().deleteIf(LINK, Buffer.from('sha256:aa')), true);
    assert.deepEqual(object.deletes, ['"1"']);
    assert.equal(object.content, null);
    assert.equal(await object.driver().deleteIf(LINK, Buffer.from('sha256:aa')), false, 'absent');
  });

  it('keeps a write that lands between its read and its delete where the store honours If-Match', async () => {
    const object = new FakeObject(Buffer.from('sha256:aa'), 'honoured');
    object.between = () => object.put(Buffer.from('sha256:bb'));
    assert.equal(await object.driver().deleteIf(LINK, Buffer.from('sha256:aa')), false);
    assert.equal(object.content?.toString(), 'sha256:bb');
  });

  it('deletes without the condition where the store refuses it (501)', async () => {
    const object = new FakeObject(Buffer.from('sha256:aa'), 'refused');
    assert.equal(await object.driver().deleteIf(LINK, Buffer.from('sha256:aa')), true);
    assert.deepEqual(object.deletes, ['"1"', undefined]);
    assert.equal(object.content, null);
  });
});
