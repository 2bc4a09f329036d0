import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  copyRanges,
  leadingCopyRanges,
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MAX_SINGLE_COPY,
  MIN_PART_SIZE,
  needsMultipartCopy,
  partCount,
  partSizeFor,
} from './limits';
import { resolveS3Options } from './options';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('S3 limits arithmetic', () => {
  it('S3 constants are the documented limits', () => {
    assert.equal(MIN_PART_SIZE, 5 * 1024 * 1024);
    assert.equal(MAX_PARTS, 10000);
    assert.equal(MAX_OBJECT_SIZE, 5 * 1024 ** 4);
    assert.equal(MAX_SINGLE_COPY, 5 * 1024 ** 3);
  });

  it('parts start at the chunk size and never go below 5 MiB or above 5 GiB', () => {
    assert.equal(partSizeFor(0, 10 * MiB), 10 * MiB);
    assert.equal(partSizeFor(0, 5 * MiB), 5 * MiB);
    assert.equal(partSizeFor(0, 1), MIN_PART_SIZE);
    assert.equal(partSizeFor(MAX_OBJECT_SIZE * 10, 10 * MiB), MAX_PART_SIZE);
    assert.equal(partSizeFor(100 * MiB, 10 * MiB), 10 * MiB, 'small uploads keep the chunk size');
    assert.equal(partSizeFor(100 * GiB, 10 * MiB), 103 * MiB, 'then parts grow with the bytes so far');
  });

  it('part sizes never shrink as an upload grows', () => {
    let last = 0;
    for (let bytes = 0; bytes <= MAX_OBJECT_SIZE; bytes += 7 * GiB + 12345) {
      const size = partSizeFor(bytes, 10 * MiB);
      assert.ok(size >= last, `at ${bytes}`);
      last = size;
    }
  });

  for (const chunk of [5 * MiB, 10 * MiB, 32 * MiB, 100 * MiB, 5 * GiB]) {
    it(`a 5 TiB upload with ${chunk / MiB} MiB chunks fits in 10,000 parts`, () => {
      const parts = partCount(MAX_OBJECT_SIZE, chunk);
      assert.ok(parts <= MAX_PARTS, `${parts} parts`);
      assert.ok(parts >= Math.ceil(MAX_OBJECT_SIZE / MAX_PART_SIZE));
    });
  }

  it('small uploads use the chunk size as is', () => {
    assert.equal(partCount(0, 10 * MiB), 1);
    assert.equal(partCount(10 * MiB, 10 * MiB), 1);
    assert.equal(partCount(10 * MiB + 1, 10 * MiB), 2);
    assert.equal(partCount(2 * GiB, 10 * MiB), 205);
  });

  it('a 5 TiB upload with 5 MiB chunks leaves room for the parts session ends add', () => {
    assert.ok(partCount(MAX_OBJECT_SIZE, 5 * MiB) < 8000);
  });

  it('single CopyObject up to the threshold, and never beyond 5 GiB', () => {
    assert.equal(needsMultipartCopy(32 * MiB, 32 * MiB), false);
    assert.equal(needsMultipartCopy(32 * MiB + 1, 32 * MiB), true);
    assert.equal(needsMultipartCopy(MAX_SINGLE_COPY, 10 * GiB), false);
    assert.equal(needsMultipartCopy(MAX_SINGLE_COPY + 1, 10 * GiB), true);
    assert.equal(needsMultipartCopy(MAX_SINGLE_COPY + 1, Number.MAX_SAFE_INTEGER), true);
  });

  it('copy ranges cover the object exactly within the part limits', () => {
    for (const [size, chunk] of [
      [MAX_SINGLE_COPY + 1, 32 * MiB],
      [MAX_OBJECT_SIZE, 32 * MiB],
      [MAX_OBJECT_SIZE, 5 * MiB],
      [12 * MiB + 5, 5 * MiB],
      [1, 5 * MiB],
    ]) {
      const ranges = copyRanges(size, chunk);
      assert.ok(ranges.length <= MAX_PARTS, `${ranges.length} parts for ${size}`);
      assert.equal(ranges[0][0], 0);
      assert.equal(ranges[ranges.length - 1][1], size - 1);
      ranges.forEach(([start, end], i) => {
        const length = end - start + 1;
        assert.ok(length <= MAX_PART_SIZE);
        if (i < ranges.length - 1) {
          assert.ok(length >= MIN_PART_SIZE, `part ${i + 1} of ${size} is ${length} bytes`);
          assert.equal(ranges[i + 1][0], end + 1);
        }
      });
    }
  });
});

describe('S3 leading copy ranges', () => {
  it('are all at least a part long, so more parts can follow them', () => {
    assert.deepEqual(leadingCopyRanges(11 * MiB + 1, 5 * MiB), [
      [0, 5 * MiB - 1],
      [5 * MiB, 11 * MiB],
    ]);
    assert.deepEqual(leadingCopyRanges(10 * MiB, 5 * MiB), copyRanges(10 * MiB, 5 * MiB));
    assert.deepEqual(leadingCopyRanges(5 * MiB, 32 * MiB), [[0, 5 * MiB - 1]]);
    // Joined, the last two would exceed the largest part: the short one takes from the one before.
    assert.deepEqual(leadingCopyRanges(MAX_PART_SIZE + 1, MAX_PART_SIZE), [
      [0, MAX_PART_SIZE + 1 - MIN_PART_SIZE - 1],
      [MAX_PART_SIZE + 1 - MIN_PART_SIZE, MAX_PART_SIZE],
    ]);
  });
});

describe('S3 options', () => {
  it('takes Distribution defaults and normalizes the root directory', () => {
    const o = resolveS3Options({ bucket: 'b', region: 'r', rootdirectory: '/registry/', regionendpoint: 'rgw:8080', secure: false });
    assert.equal(o.rootPrefix, 'registry/');
    assert.equal(o.endpoint, 'http://rgw:8080');
    assert.equal(o.chunkSize, 10 * MiB);
    assert.equal(o.copyThreshold, 32 * MiB);
    assert.equal(o.storageClass, 'STANDARD');
    assert.equal(o.redirect, true);
    assert.equal(resolveS3Options({ bucket: 'b', region: 'r' }).rootPrefix, '');
    assert.equal(resolveS3Options({ bucket: 'b', region: 'r', regionendpoint: 'h' }).endpoint, 'https://h');
  });

  it('rejects chunk sizes S3 would refuse and half-given credentials', () => {
    assert.throws(() => resolveS3Options({ bucket: 'b', region: 'r', chunksize: 5 * MiB - 1 }), /chunksize/);
    assert.throws(() => resolveS3Options({ bucket: 'b', region: 'r', accesskey: 'a' }), /secretkey/);
    assert.throws(() => resolveS3Options({ bucket: '', region: 'r' }), /bucket/);
  });

  it('encrypts with KMS when a key id is given', () => {
    assert.deepEqual(resolveS3Options({ bucket: 'b', region: 'r', encrypt: true }).encryption, { ServerSideEncryption: 'AES256' });
    assert.deepEqual(resolveS3Options({ bucket: 'b', region: 'r', encrypt: true, keyid: 'k' }).encryption, {
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'k',
    });
    assert.equal(resolveS3Options({ bucket: 'b', region: 'r', storageclass: 'none' }).storageClass, undefined);
  });
});
