import assert from 'node:assert/strict';
import type { DefineTest } from './driver-suite';
import { assertContent, Pattern, putPattern, writeSession } from './helpers';

const MiB = 1 << 20;

/**
 * What the contract can observe of purgeLeftovers on any driver: whatever it wrote, committed or
 * not, is never a leftover, even with a cutoff in the future. Planting real leftovers needs a crash
 * or the backend itself, so each driver's own tests do that.
 */
export function leftoverTests(define: DefineTest): void {
  define('purgeLeftovers never takes content, moved files or uncommitted writes', async (driver, base) => {
    const pattern = new Pattern(51);
    await driver.putContent(`${base}/link`, Buffer.from('sha256:x'));
    await putPattern(driver, `${base}/blob/data`, pattern, 3 * MiB + 1);
    await putPattern(driver, `${base}/moving`, pattern, MiB);
    await driver.move(`${base}/moving`, `${base}/moved/data`);
    // An uncommitted upload big enough to have stored parts on a multipart backend.
    await writeSession(driver, `${base}/upload/data`, pattern, 0, 11 * MiB + 7, { append: false });

    const future = new Date(Date.now() + 60_000);
    assert.deepEqual(await driver.purgeLeftovers(future, { dryRun: true }), []);
    assert.deepEqual(await driver.purgeLeftovers(future), []);

    assert.equal((await driver.getContent(`${base}/link`)).toString(), 'sha256:x');
    await assertContent(driver, `${base}/blob/data`, pattern, 3 * MiB + 1);
    await assertContent(driver, `${base}/moved/data`, pattern, MiB);
    await writeSession(driver, `${base}/upload/data`, pattern, 11 * MiB + 7, 12 * MiB, { append: true, commit: true });
    await assertContent(driver, `${base}/upload/data`, pattern, 12 * MiB);
    await driver.delete(base);
  });
}
