import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AccessDenied, Challenge, TooManyAttempts } from '../../auth';
import { answeredStatuses, answerFor, faultAnswer, OCI_CODES } from '../../src/http/error-table';
import { DomainError } from '../../src/oci/errors';
import { storageFault } from '../../src/storage-faults';

// distribution-spec v1.1.1, "Error Codes": every code a registry may return.
const SPEC_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED',
  'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
];

/** docs/api.md's error rows: code, its usual status, and the text that names the other statuses. */
async function documentedCodes(): Promise<Map<string, { status: number; row: string }>> {
  // Compiled tests run from dist/test/unit; the docs live at the repository root.
  const text = await readFile(join(__dirname, '..', '..', '..', 'docs', 'api.md'), 'utf8');
  const section = text.slice(text.indexOf('## Errors'));
  const rows = new Map<string, { status: number; row: string }>();
  for (const m of section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|(.*)$/gm)) rows.set(m[1], { status: Number(m[2]), row: m[3] });
  return rows;
}

test('the error table holds every code of the specification', () => {
  for (const code of SPEC_CODES) assert.ok(code in OCI_CODES, `${code} missing from the table`);
});

test('the documented error list matches the table: code for code, and every status the table answers with', async () => {
  const docs = await documentedCodes();
  assert.deepEqual([...docs.keys()].sort(), Object.keys(OCI_CODES).sort());
  for (const [code, { status }] of Object.entries(OCI_CODES)) assert.equal(docs.get(code)?.status, status, code);
  for (const { code, status } of answeredStatuses()) {
    const doc = docs.get(code)!;
    assert.ok(doc.status === status || new RegExp(`\\b${status}\\b`).test(doc.row), `${code} is answered with ${status}, which docs/api.md does not mention`);
  }
});

test('a domain error is answered with its code, the status the table gives it, its reason and its facts', () => {
  assert.deepEqual(answerFor(new DomainError('too-large', { limit: 1 }, 'too big')), {
    status: 413,
    headers: {},
    error: { code: 'SIZE_INVALID', message: 'too big', detail: { limit: 1 } },
  });
  assert.deepEqual(answerFor(new DomainError('blob-unknown', { digest: 'sha256:x' })).error, {
    code: 'BLOB_UNKNOWN',
    message: 'blob unknown to registry',
    detail: { digest: 'sha256:x' },
  });
  assert.deepEqual(answerFor(new DomainError('deletes-disabled', {})).error, { code: 'UNSUPPORTED', message: 'the operation is unsupported' });
  const range = answerFor(new DomainError('upload-range-invalid', { offset: 10 }));
  assert.equal(range.status, 416);
  assert.deepEqual(range.headers, { Range: '0-9' });
  assert.deepEqual(answerFor(new DomainError('method-not-allowed', { method: 'POST', allow: ['GET', 'HEAD'] })).headers, { Allow: 'GET, HEAD' });
  assert.deepEqual(answerFor(new DomainError('range-not-satisfiable', { size: 5 })).headers, { 'Content-Range': 'bytes */5' });
});

test("auth's refusals, storage faults and anything unforeseen", () => {
  const challenge = answerFor(new Challenge('Basic realm="x"'));
  assert.equal(challenge.status, 401);
  assert.deepEqual(challenge.headers, { 'WWW-Authenticate': 'Basic realm="x"' });
  assert.equal(answerFor(new AccessDenied()).status, 403);
  assert.deepEqual(answerFor(new TooManyAttempts(7)).headers, { 'Retry-After': '7' });
  const full = faultAnswer(storageFault(Object.assign(new Error('x'), { code: 'ENOSPC' }))!);
  assert.equal(full.status, 507);
  assert.deepEqual(full.headers, {});
  assert.deepEqual(full.error, { code: 'UNAVAILABLE', message: 'storage is full: no space left on device', detail: { cause: 'ENOSPC' } });
  assert.equal(faultAnswer(storageFault(Object.assign(new Error('x'), { code: 'EROFS' }))!).headers['Retry-After'], '60');
  assert.deepEqual(answerFor(new Error('secret')), { status: 500, headers: {}, error: { code: 'UNKNOWN', message: 'unknown error' } });
});
