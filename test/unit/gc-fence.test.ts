import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryDriver } from '../../storage-drivers';
import { GcFence } from '../../src/oci/gc-fence';
import { writeSweepCandidates, writeSweepState } from '../../src/oci/gc-sweep-state';
import { answerFor } from '../../src/http/error-table';

const B = 'sha256:' + 'b'.repeat(64);
const OTHER = 'sha256:' + 'c'.repeat(64);
const refs = (blob: string) => ({ blobs: [blob], manifests: [] });

async function announce(driver: ReturnType<typeof createMemoryDriver>, generation: number, heartbeat = 0) {
  await writeSweepCandidates(driver, { generation, blobs: [B], manifests: [] });
  await writeSweepState(driver, { generation, sweeping: true, heartbeat });
}

describe('the writers’ side of the collection protocol (GcFence)', () => {
  it('no sweep before or after: clear at once', async () => {
    const driver = createMemoryDriver();
    const fence = new GcFence(driver);
    assert.equal(await fence.after(await fence.before(), refs(B)), 'clear');
  });

  it('a sweep that started meanwhile and may delete what the write references: wait for it, then check again', async () => {
    const driver = createMemoryDriver();
    const fence = new GcFence(driver, { pollMs: 10 });
    const before = await fence.before();
    await announce(driver, 1);
    let ended = false;
    setTimeout(() => {
      ended = true;
      void writeSweepState(driver, { generation: 1, sweeping: false, heartbeat: 0 });
    }, 150);
    assert.equal(await fence.after(before, refs(B)), 'recheck');
    assert.ok(ended, 'returned while the sweep could still delete');
  });

  it('a sweep that cannot delete what the write references: clear without waiting', async () => {
    const driver = createMemoryDriver();
    const fence = new GcFence(driver, { pollMs: 10 });
    const before = await fence.before();
    await announce(driver, 1);
    assert.equal(await fence.after(before, refs(OTHER)), 'clear');
  });

  it('a sweep that finished between the two looks: check again', async () => {
    const driver = createMemoryDriver();
    const fence = new GcFence(driver);
    const before = await fence.before();
    await announce(driver, 1);
    await writeSweepState(driver, { generation: 1, sweeping: false, heartbeat: 3 });
    assert.equal(await fence.after(before, refs(B)), 'recheck');
    assert.equal(await fence.after(await fence.before(), refs(B)), 'clear', 'a second look after it ended is clear');
  });

  it('a collector killed mid-sweep is taken for dead once its heartbeat stands still, and then blocks nothing', async () => {
    const driver = createMemoryDriver();
    const fence = new GcFence(driver, { pollMs: 10, deadAfterMs: 150 });
    await announce(driver, 7, 4);
    const t0 = Date.now();
    assert.equal(await fence.after(await fence.before(), refs(B)), 'recheck', 'the dead sweep may have deleted before it died');
    assert.ok(Date.now() - t0 >= 150, 'gave up on it before its heartbeat stood still long enough');
    const t1 = Date.now();
    assert.equal(await fence.after(await fence.before(), refs(B)), 'clear', 'a write after it was known dead checks once, not forever');
    assert.ok(Date.now() - t1 < 100);
  });

  it('a live sweep (heartbeat moving) that keeps a conflict past the wait limit answers 503', async () => {
    const driver = createMemoryDriver();
    const fence = new GcFence(driver, { pollMs: 10, deadAfterMs: 100, maxWaitMs: 300 });
    await announce(driver, 2);
    let beat = 0;
    const timer = setInterval(() => void writeSweepState(driver, { generation: 2, sweeping: true, heartbeat: ++beat }), 30);
    try {
      await assert.rejects(fence.after(await fence.before(), refs(B)), (err: unknown) => {
        const answer = answerFor(err);
        assert.equal(answer.status, 503);
        assert.ok(answer.headers['Retry-After']);
        return true;
      });
    } finally {
      clearInterval(timer);
    }
  });
});
