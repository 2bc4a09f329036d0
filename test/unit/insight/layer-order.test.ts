import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryDriver } from '../../../storage-drivers';
import { comparePushes, type OrderLayer } from '../../../src/insight/layer-order';
import { previousTagDigest } from '../../../src/insight/tag-history';
import { parseDigest } from '../../../src/oci/digest';
import { paths } from '../../../src/oci/paths';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const layer = (digest: string, size: number, contentDigest: string | undefined, createdBy: string): OrderLayer => ({ digest, size, contentDigest, createdBy });

describe('comparing a push with the previous one', () => {
  // v1: base, COPY src, RUN install; v2: the source changed, so the install was rebuilt with the same files.
  const base = layer(d('a'), 1000, 'base-files', 'COPY busybox /bin/busybox');
  const v1 = [base, layer(d('b'), 10, 'src-v1', 'COPY app.txt /app/'), layer(d('c'), 5000, 'deps', 'RUN install')];
  const v2 = [base, layer(d('d'), 12, 'src-v2', 'COPY app.txt /app/'), layer(d('e'), 5001, 'deps', 'RUN install')];

  test('reused, changed and rebuilt-identical layers, with their bytes', () => {
    const got = comparePushes(v1, v2);
    assert.deepEqual(
      got.layers.map((l) => l.kind),
      ['reused', 'changed', 'rebuilt-identical'],
    );
    assert.equal(got.reusedBytes, 1000);
    assert.equal(got.changedBytes, 12);
    assert.equal(got.rebuiltBytes, 5001);
  });

  test('the rebuilt install is advised below the changed COPY, saving its size per push and per pull', () => {
    assert.deepEqual(comparePushes(v1, v2).advice, [
      { move: { index: 2, createdBy: 'RUN install' }, below: { index: 1, createdBy: 'COPY app.txt /app/' }, bytesPerPush: 5001, bytesPerPull: 5001 },
    ]);
  });

  test('the better order needs no advice: the install is reused, only the source moves', () => {
    const good1 = [base, layer(d('c'), 5000, 'deps', 'RUN install'), layer(d('b'), 10, 'src-v1', 'COPY app.txt /app/')];
    const good2 = [base, layer(d('c'), 5000, 'deps', 'RUN install'), layer(d('d'), 12, 'src-v2', 'COPY app.txt /app/')];
    const got = comparePushes(good1, good2);
    assert.deepEqual(
      got.layers.map((l) => l.kind),
      ['reused', 'reused', 'changed'],
    );
    assert.deepEqual(got.advice, []);
    assert.equal(got.rebuiltBytes, 0);
  });

  test('a layer not analysed counts as changed and gets no advice; no previous image: all changed', () => {
    const unknown = [base, layer(d('d'), 12, 'src-v2', 'COPY'), layer(d('e'), 5001, undefined, 'RUN install')];
    assert.deepEqual(comparePushes(v1, unknown).advice, []);
    assert.deepEqual(
      comparePushes([], v2).layers.map((l) => l.kind),
      ['changed', 'changed', 'changed'],
    );
  });
});

describe("a tag's previous manifest", () => {
  test('the index link written last, other than the current digest', async () => {
    const driver = createMemoryDriver();
    const [one, two, three] = ['1', '2', '3'].map((c) => parseDigest(d(c)));
    assert.equal(await previousTagDigest(driver, 'app', 'v1', one), null);
    for (const digest of [one, two, three]) {
      await driver.putContent(paths.tagIndexLink('app', 'v1', digest), Buffer.from(digest.value));
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await previousTagDigest(driver, 'app', 'v1', three))?.value, two.value);
    // Pushed again: `one` is now the newest other than the current.
    await driver.putContent(paths.tagIndexLink('app', 'v1', one), Buffer.from(one.value));
    assert.equal((await previousTagDigest(driver, 'app', 'v1', three))?.value, one.value);
    assert.equal((await previousTagDigest(driver, 'app', 'v1', one))?.value, three.value);
    // Junk in the index is skipped, not an error.
    await driver.putContent(`${paths.tagIndexDir('app', 'v1')}/sha256/zz/link`, Buffer.from('x'));
    assert.equal((await previousTagDigest(driver, 'app', 'v1', one))?.value, three.value);
  });
});
