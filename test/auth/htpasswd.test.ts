import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import { Htpasswd, parseHtpasswd } from '../../auth/htpasswd';
import { FailureLimiter } from '../../auth/rate-limit';
import { TooManyAttempts } from '../../auth/types';
import { authFixture, USERS, writeHtpasswd, type AuthFixture } from './helpers';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

describe('htpasswd', () => {
  let fx: AuthFixture;
  before(async () => {
    fx = await authFixture();
  });
  after(async () => {
    await fx.cleanup();
  });

  test('accepts $2y$, $2a$ and $2b$ entries and refuses other hashes', async () => {
    const h = new Htpasswd(fx.htpasswd);
    for (const [user, pw] of Object.entries(USERS)) {
      assert.equal(await h.verify(user, pw), true, user);
      assert.equal(await h.verify(user, pw + 'x'), false, user);
    }
    const ok = await bcrypt.hash('x', 4);
    // Costs bcrypt cannot compute (below 4, above 31) could never match.
    const bad = (cost: string) => ok.replace('$04$', `$${cost}$`);
    const parsed = parseHtpasswd(`# comment\n\nmd5:$apr1$abc$def\nsha:{SHA}abc=\nplain:secret\nnocolon\nlow:${bad('03')}\nhigh:${bad('32')}\nok:${ok}\r\n`);
    assert.deepEqual([...parsed.users.keys()], ['ok']);
    assert.equal(parsed.rejected, 6);
  });

  test('unknown users and empty passwords are refused', async () => {
    const h = new Htpasswd(fx.htpasswd);
    assert.equal(await h.verify('mallory', USERS.alice), false);
    assert.equal(await h.verify('alice', ''), false);
    assert.equal(await h.verify('', ''), false);
  });

  test('the file is re-read when it changes', async () => {
    const file = path.join(fx.dir, 'reload');
    await writeFile(file, `dave:${await bcrypt.hash('one', 4)}\n`);
    let reloads = 0;
    const h = new Htpasswd(file, () => reloads++);
    assert.equal(await h.verify('dave', 'one'), true);
    assert.equal(await h.verify('erin', 'two'), false);
    await writeFile(file, `erin:${await bcrypt.hash('two', 4)}\n`);
    assert.equal(await h.verify('erin', 'two'), true);
    assert.equal(await h.verify('dave', 'one'), false, 'a removed user is refused even though it was cached');
    assert.equal(reloads, 2);
  });

  test('an unknown user costs about as much as a wrong password (dummy hash of the same cost)', async () => {
    const file = path.join(fx.dir, 'timing');
    await writeHtpasswd(file, 9);
    const h = new Htpasswd(file);
    await h.verify('alice', 'warm-up');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 8; i++) {
      let t = process.hrtime.bigint();
      await h.verify('alice', `wrong-${i}`);
      known.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      await h.verify(`nobody-${i}`, `wrong-${i}`);
      unknown.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const ratio = median(unknown) / median(known);
    // A missing dummy comparison would make unknown users ~100x faster (µs against tens of ms): the
    // bounds catch that with room for a loaded machine, where medians of 8 moved by more than 2x.
    assert.ok(median(known) > 5, `bcrypt cost 9 should take milliseconds, took ${median(known)} ms`);
    assert.ok(ratio > 0.2 && ratio < 5, `unknown/known time ratio ${ratio.toFixed(2)} (known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms)`);
  });
});

describe('failure limiter', () => {
  test('refuses a client after maxfailures within the window, until the window passes; others are unaffected', () => {
    let now = 1_000_000;
    const l = new FailureLimiter(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      l.check('a');
      l.fail('a');
    }
    assert.throws(() => l.check('a'), (e: unknown) => e instanceof TooManyAttempts && e.retryAfterSeconds === 60);
    l.check('b');
    now += 30_000;
    assert.throws(() => l.check('a'), (e: unknown) => e instanceof TooManyAttempts && e.retryAfterSeconds === 30);
    now += 30_001;
    l.check('a');
  });

  test('memory stays bounded', () => {
    const l = new FailureLimiter(2, 60_000, Date.now, 100);
    for (let i = 0; i < 1000; i++) l.fail(`client-${i}`);
    l.fail('last');
    l.fail('last');
    assert.throws(() => l.check('last'));
    l.check('client-0');
  });
});
