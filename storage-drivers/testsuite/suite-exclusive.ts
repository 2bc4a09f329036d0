import assert from 'node:assert/strict';
import { PathExistsError } from '../errors';
import type { DefineTest } from './driver-suite';

/** Creators racing for one path in each round: more than a lease ever sees at once. */
const RACERS = 8;

export function exclusiveTests(define: DefineTest): void {
  define('createExclusive creates once, with its parents, and then refuses', async (driver, base) => {
    const path = `${base}/new/dirs/lease`;
    await driver.createExclusive(path, Buffer.from('first'));
    assert.equal((await driver.getContent(path)).toString(), 'first');
    await assert.rejects(driver.createExclusive(path, Buffer.from('second')), PathExistsError);
    assert.equal((await driver.getContent(path)).toString(), 'first');
    await driver.putContent(`${base}/put`, Buffer.from('put'));
    await assert.rejects(driver.createExclusive(`${base}/put`, Buffer.from('x')), PathExistsError);
    assert.equal((await driver.getContent(`${base}/put`)).toString(), 'put');
    // Once deleted, the path can be created again; and whatever it took to create is not a leftover.
    await driver.delete(path);
    await driver.createExclusive(path, new Uint8Array(0));
    assert.equal((await driver.getContent(path)).length, 0);
    assert.deepEqual(await driver.purgeLeftovers(new Date(Date.now() + 60_000), { dryRun: true }), []);
    await driver.delete(base);
  });

  define('of creators racing for one path exactly one wins, and its content is what is read', async (driver, base) => {
    for (let round = 0; round < 5; round++) {
      const path = `${base}/round-${round}/lease`;
      const contents = Array.from({ length: RACERS }, (_, i) => Buffer.alloc(1000 + i, `racer-${i}-`));
      const results = await Promise.allSettled(contents.map((c) => driver.createExclusive(path, c)));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, `round ${round}: ${won.length} creators won`);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof PathExistsError, String(r.reason));
      assert.deepEqual(await driver.getContent(path), contents[won[0]]);
    }
    await driver.delete(base);
  });

  define('putContent with ifAbsent writes a new file with its parents, and refuses without writing where a file is', async (driver, base) => {
    const path = `${base}/new/dirs/data`;
    await driver.putContent(path, Buffer.from('first'), { ifAbsent: true });
    assert.equal((await driver.getContent(path)).toString(), 'first');
    await assert.rejects(driver.putContent(path, Buffer.from('second'), { ifAbsent: true }), PathExistsError);
    assert.equal((await driver.getContent(path)).toString(), 'first');
    await driver.delete(path);
    await driver.putContent(path, Buffer.from('again'), { ifAbsent: true });
    assert.equal((await driver.getContent(path)).toString(), 'again');
    await driver.delete(base);
  });
}
