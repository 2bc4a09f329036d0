import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RepeatThrottle } from '../../src/http/repeat-throttle';

test('the same message passes once per interval, then with the count held back', () => {
  let now = 0;
  const throttle = new RepeatThrottle(60_000, () => now);
  assert.deepEqual(throttle.pass('a'), { suppressed: 0 });
  for (let i = 0; i < 5; i++) assert.equal(throttle.pass('a'), undefined);
  // Another failure is news: it is not held back behind the first.
  assert.deepEqual(throttle.pass('b'), { suppressed: 0 });
  now = 59_999;
  assert.equal(throttle.pass('a'), undefined);
  now = 60_000;
  assert.deepEqual(throttle.pass('a'), { suppressed: 6 });
  assert.equal(throttle.pass('a'), undefined);
});

test('distinct messages beyond its capacity forget the oldest instead of growing', () => {
  const throttle = new RepeatThrottle(60_000, () => 0, 3);
  for (const k of ['a', 'b', 'c', 'd']) assert.ok(throttle.pass(k));
  // `a` was forgotten to make room for `d`, so it passes again; `d` is still held back.
  assert.ok(throttle.pass('a'));
  assert.equal(throttle.pass('d'), undefined);
});
