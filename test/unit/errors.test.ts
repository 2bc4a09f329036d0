import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, OciError } from '../../src/oci/errors';

// distribution-spec v1.1.1, "Error Codes": every code a registry may return.
const SPEC_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED',
  'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
];

async function documentedCodes(): Promise<Map<string, number>> {
  // Compiled tests run from dist/test/unit; the docs live at the repository root.
  const text = await readFile(join(__dirname, '..', '..', '..', 'docs', 'api.md'), 'utf8');
  const section = text.slice(text.indexOf('## Errors'));
  const rows = new Map<string, number>();
  for (const m of section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)) rows.set(m[1], Number(m[2]));
  return rows;
}

test('the error table holds every code of the specification', () => {
  for (const code of SPEC_CODES) assert.ok(code in ERROR_CODES, `${code} missing from the table`);
});

test('the documented error list matches the table, code for code and status for status', async () => {
  const docs = await documentedCodes();
  assert.deepEqual([...docs.keys()].sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, { status }] of Object.entries(ERROR_CODES)) assert.equal(docs.get(code), status, code);
});

test('OciError renders the spec body shape and honours a status override', () => {
  const e = new OciError('SIZE_INVALID', { limit: 1 }, { status: 413, message: 'too big' });
  assert.equal(e.status, 413);
  assert.deepEqual(e.toJSON(), { code: 'SIZE_INVALID', message: 'too big', detail: { limit: 1 } });
  assert.deepEqual(new OciError('BLOB_UNKNOWN').toJSON(), { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' });
  assert.equal(new OciError('UNKNOWN').status, 500);
});
