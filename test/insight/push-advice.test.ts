import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CompleteImageReport } from '../../src/insight/report/report-types';
import { Pusher, bytes, pushImage } from './images';
import { startInsightRegistry, type InsightRegistry } from './insight-server';

const HISTORY = [{ created_by: 'COPY busybox /bin/busybox' }, { created_by: 'COPY app.txt /app/' }, { created_by: 'RUN install-deps' }];
const base = [{ name: 'bin/busybox', content: bytes(1000, 'b') }];
const source = (v: string) => [{ name: 'app/app.txt', content: `version ${v}\n` }];
// The install makes the same files each time, with the time of the build.
const deps = (built: number) => [
  { name: 'deps/', mtime: new Date(built) },
  { name: 'deps/lib.so', content: bytes(20_000, 'd'), mtime: new Date(built) },
];

async function complete(p: Pusher, name: string, reference: string): Promise<CompleteImageReport> {
  for (let i = 0; i < 250; i++) {
    const res = await p.get(`/v2/${name}/_berth/insight/${reference}`);
    const text = await res.text();
    if (res.status === 200) {
      const r = JSON.parse(text) as CompleteImageReport;
      if (r.push?.status !== 'pending') return r;
    } else assert.equal(res.status, 202, text);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the report stayed pending');
}

describe('insight: what a push of a tag moved, and layer-order advice', () => {
  let reg: InsightRegistry;
  let p: Pusher;
  before(async () => {
    reg = await startInsightRegistry();
    p = new Pusher(reg.url);
  });
  after(() => reg.close());

  test('the install above the source is rebuilt with the same files at each push: move it below the COPY', async () => {
    const v1 = await pushImage(p, 'order/bad', 'latest', { layers: [base, source('1'), deps(1_000_000)], history: HISTORY });
    const first = await complete(p, 'order/bad', 'latest');
    assert.equal(first.push, undefined, 'a tag pushed once has nothing to compare with');
    const v2 = await pushImage(p, 'order/bad', 'latest', { layers: [base, source('2'), deps(2_000_000)], history: HISTORY });
    assert.notEqual(v2.layers[2].digest, v1.layers[2].digest, 'the rebuilt install must be a new blob');
    const got = await complete(p, 'order/bad', 'latest');
    assert.ok(got.push?.status === 'complete');
    assert.equal(got.push.previous, v1.manifest.digest);
    assert.deepEqual(
      got.push.layers.map((l) => l.kind),
      ['reused', 'changed', 'rebuilt-identical'],
    );
    assert.equal(got.push.reusedBytes, v2.layers[0].size);
    assert.equal(got.push.changedBytes, v2.layers[1].size);
    assert.equal(got.push.rebuiltBytes, v2.layers[2].size);
    assert.deepEqual(got.push.advice, [
      { move: { index: 2, createdBy: 'RUN install-deps' }, below: { index: 1, createdBy: 'COPY app.txt /app/' }, bytesPerPush: v2.layers[2].size, bytesPerPull: v2.layers[2].size },
    ]);
    // By digest there is no tag, so no history to compare with.
    assert.equal((await complete(p, 'order/bad', v2.manifest.digest)).push, undefined);
  });

  test('the install below the source: reused at each push, no advice', async () => {
    const good = [HISTORY[0], HISTORY[2], HISTORY[1]];
    await pushImage(p, 'order/good', 'latest', { layers: [base, deps(1_000_000), source('1')], history: good });
    await complete(p, 'order/good', 'latest');
    await pushImage(p, 'order/good', 'latest', { layers: [base, deps(1_000_000), source('2')], history: good });
    const got = await complete(p, 'order/good', 'latest');
    assert.ok(got.push?.status === 'complete');
    assert.deepEqual(
      got.push.layers.map((l) => l.kind),
      ['reused', 'reused', 'changed'],
    );
    assert.deepEqual(got.push.advice, []);
  });
});
