import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentLength, parseContentRange, parseCount, parseRange, uploadRange } from '../../src/http/ranges';
import { answerFor } from '../../src/http/error-table';
import { paginate } from '../../src/oci/listing';
import { DomainError } from '../../src/oci/errors';

/** Whether `e` is a domain error the client sees as `code` with `status`. */
function answered(e: unknown, code: string, status: number): boolean {
  return e instanceof DomainError && answerFor(e).error.code === code && answerFor(e).status === status;
}

test('upload Content-Range: inclusive start-end, with or without a bytes prefix', () => {
  assert.equal(parseContentRange(undefined), undefined);
  assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange('bytes 100-199/1000'), { start: 100, end: 199 });
  assert.deepEqual(parseContentRange('bytes=5-5'), { start: 5, end: 5 });
  for (const bad of ['', '5-4', 'a-b', '-1', '0-', '0-1-2', '1e3-2e3'])
    assert.throws(() => parseContentRange(bad), (e: unknown) => answered(e, 'BLOB_UPLOAD_INVALID', 416), bad);
});

test('blob Range: one byte range, suffixes, unsatisfiable sets, and invalid headers ignored (RFC 9110)', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=10-19', 100), { kind: 'partial', range: { start: 10, end: 19 } });
  assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  assert.deepEqual(parseRange('bytes=90-1000', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'full' });
  assert.deepEqual(parseRange('bytes=200-,300-400', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'full' }, 'an empty blob satisfies a suffix with nothing');
  assert.deepEqual(parseRange('BYTES=1-1', 100), { kind: 'partial', range: { start: 1, end: 1 } });
  for (const invalid of ['items=0-1', 'bytes=5-3', 'bytes=', 'bytes=-', 'bytes=a-b', 'bytes=1-2-3', 'bytes=5-3,0-1', 'bytes 0-1', 'bytes=+1-2'])
    assert.deepEqual(parseRange(invalid, 100), { kind: 'full' }, invalid);
});

test('the upload Range header never has a bytes= prefix and is 0-0 when empty', () => {
  assert.equal(uploadRange(0), '0-0');
  assert.equal(uploadRange(1), '0-0');
  assert.equal(uploadRange(1000), '0-999');
});

test('Content-Length and n are validated', () => {
  assert.equal(contentLength(undefined), undefined);
  assert.equal(contentLength('42'), 42);
  assert.throws(() => contentLength('-1'));
  assert.throws(() => contentLength('1.5'));
  assert.equal(parseCount(null), undefined);
  assert.equal(parseCount('0'), 0);
  for (const bad of ['-1', 'x', '1.0', '']) assert.throws(() => parseCount(bad), (e: unknown) => answered(e, 'UNSUPPORTED', 400));
});

test('paginate: after last, at most n, and a next marker only when more remain', () => {
  const all = ['a', 'b', 'c', 'd'];
  assert.deepEqual(paginate(all, undefined, undefined), { items: all });
  assert.deepEqual(paginate(all, 2, undefined), { items: ['a', 'b'], next: 'b' });
  assert.deepEqual(paginate(all, 2, 'b'), { items: ['c', 'd'] });
  assert.deepEqual(paginate(all, 0, undefined), { items: [] });
  assert.deepEqual(paginate(all, 10, 'bb'), { items: ['c', 'd'] });
  assert.deepEqual(paginate(all, undefined, 'z'), { items: [] });
});
