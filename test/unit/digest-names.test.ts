import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, parseDigest } from '../../src/oci/digest';
import { validateName, validateTag, isValidTag } from '../../src/oci/names';
import { DomainError } from '../../src/oci/errors';
import { answerFor } from '../../src/http/error-table';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof DomainError, `expected a DomainError, got ${String(err)}`);
    return answerFor(err).error.code;
  }
}

test('parseDigest accepts sha256 and sha512 and rejects everything else with DIGEST_INVALID', () => {
  const sha256 = 'sha256:' + 'a'.repeat(64);
  const sha512 = 'sha512:' + 'b'.repeat(128);
  assert.deepEqual(parseDigest(sha256), { algorithm: 'sha256', hex: 'a'.repeat(64), value: sha256 });
  assert.equal(parseDigest(sha512).algorithm, 'sha512');
  for (const bad of ['', 'sha256', 'sha256:', 'sha256:' + 'a'.repeat(63), 'sha256:' + 'A'.repeat(64), 'sha512:' + 'a'.repeat(64),
    'md5:' + 'a'.repeat(32), 'sha256:' + 'g'.repeat(64), ':' + 'a'.repeat(64), 'sha256:' + 'a'.repeat(64) + '\n', 'SHA256:' + 'a'.repeat(64)])
    assert.equal(code(() => parseDigest(bad)), 'DIGEST_INVALID', bad);
});

test('digestOf hashes with the algorithm asked for', () => {
  assert.equal(digestOf(Buffer.from('')).value, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(digestOf(Buffer.from('abc'), 'sha512').hex.slice(0, 16), 'ddaf35a193617aba');
});

test('repository names follow the distribution-spec grammar', () => {
  for (const ok of ['a', 'a/b', 'library/busybox', 'a.b_c__d-e--f/g', '0', 'x'.repeat(255)]) assert.equal(validateName(ok), ok);
  for (const bad of ['', 'A', 'a/B', 'a//b', '/a', 'a/', 'a..b', '..', 'a/../b', 'a_', '-a', 'a___b', 'a.-b', 'x'.repeat(256), 'a b', 'a:b'])
    assert.equal(code(() => validateName(bad)), 'NAME_INVALID', bad);
});

test('tags follow the distribution-spec grammar', () => {
  for (const ok of ['latest', 'v1.0', '_x', 'A-b.c_d', 'a'.repeat(128)]) assert.ok(isValidTag(ok), ok);
  for (const bad of ['', '.a', '-a', 'a/b', 'a:b', 'a'.repeat(129), 'a b']) assert.equal(code(() => validateTag(bad)), 'MANIFEST_INVALID', bad);
});
