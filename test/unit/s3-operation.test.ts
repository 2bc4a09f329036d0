import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s3Operation } from '../s3/counting-proxy';

// The bench's S3 request breakdowns label each registry's requests with this; Distribution 2.8 lists
// with ListObjects (v1), which must not be counted as object reads.
describe('s3Operation (counting proxy labels, path-style requests)', () => {
  const op = (method: string, url: string) => s3Operation({ method, url, status: 200 });

  it('tells the two listings apart from object reads', () => {
    assert.equal(op('GET', '/bucket?max-keys=1&prefix=docker%2Fregistry%2Fv2%2Fblobs'), 'ListObjects');
    assert.equal(op('GET', '/bucket/?prefix=a%2F&delimiter=%2F'), 'ListObjects');
    assert.equal(op('GET', '/bucket?list-type=2&max-keys=1&prefix=a%2F'), 'ListObjectsV2');
    assert.equal(op('GET', '/bucket/docker/registry/v2/blobs/sha256/ab/abcd/data'), 'GetObject');
    assert.equal(op('GET', '/bucket/docker/registry/v2/blobs/sha256/ab/abcd/data?x-id=GetObject'), 'GetObject');
    assert.equal(op('GET', '/bucket?prefix=a&uploads='), 'ListMultipartUploads');
    assert.equal(op('GET', '/bucket/key?uploadId=1'), 'ListParts');
  });
});
