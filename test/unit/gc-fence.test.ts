import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryDriver } from '../../storage-drivers';
import { GcFence } from '../../src/oci/gc-fence';
import { readSweepState, writeSweepCandidates, writeSweepState } from '../../src/oci/gc-sweep-state';
import { SweepNotice } from '../../src/oci/gc-sweep';
import { paths } from '../../src/oci/paths';
import type { StorageDriver } from '../../storage-drivers/types';
import { answerFor } from '../../src/http/error-table';

const B = 'sha256:' + 'b'.repeat(64);
const OTHER = 'sha256:' + 'c'.repeat(64);
const refs = (blob: string) => ({ blobs: [blob], manifests: [] });

async function announce(driver: ReturnType<typeof createMemoryDriver>, generation: number, heartbeat = 0) {
  await writeSweepCandidates(driver, { generation, blobs: [B], manifests: [] });
  await writeSweepState(driver, { generation, sweeping: true, heartbeat });
}

/** A memory driver counting reads of the sweep state. */
function counting() {
  const inner = createMemoryDriver();
  const counter = { reads: 0 };
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  driver.getContent = (path) => {
    if (path === paths.gcSweepState) counter.reads++;
    return inner.getContent(path);
  };
  return { driver, inner, counter };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the quiet period a sweep state promises', () => {
  it('a write whose links land within half of it clears without a second read', async () => {
    const { driver, inner, counter } = counting();
    await writeSweepState(inner, { generation: 3, sweeping: false, heartbeat: 0, quietMs: 10_000 });
    const fence = new GcFence(driver);
    const before = await fence.before();
    assert.equal(await fence.after(before, refs(B)), 'clear');
    assert.equal(counter.reads, 1);
  });

  it('past half of it, the write reads again and sees a sweep that came meanwhile', async () => {
    const { driver, inner, counter } = counting();
    await writeSweepState(inner, { generation: 3, sweeping: false, heartbeat: 0, quietMs: 60 });
    const fence = new GcFence(driver);
    const before = await fence.before();
    await sleep(40);
    await announce(inner, 4);
    await writeSweepState(inner, { generation: 4, sweeping: false, heartbeat: 1, quietMs: 60 });
    assert.equal(await fence.after(before, refs(B)), 'recheck');
    assert.equal(counter.reads, 2);
  });

  it('a first look that saw a sweep running gets no shortcut', async () => {
    const { driver, inner, counter } = counting();
    await writeSweepCandidates(inner, { generation: 5, blobs: [], manifests: [] });
    await writeSweepState(inner, { generation: 5, sweeping: true, heartbeat: 0, quietMs: 10_000 });
    const fence = new GcFence(driver);
    assert.equal(await fence.after(await fence.before(), refs(B)), 'clear');
    assert.equal(counter.reads, 2);
  });

  it('a store with no state gets the configured promise once, created exclusively, and the next sweep waits it', async () => {
    const { driver, inner, counter } = counting();
    const [mine, theirs] = await Promise.all([new GcFence(driver, { quietMs: 150 }).before(), new GcFence(inner, { quietMs: 90_000 }).before()]);
    // Of the two racing creators one wins, and both go by what it wrote.
    assert.equal(mine.quietMs, theirs.quietMs);
    assert.equal((await readSweepState(inner)).quietMs, mine.quietMs);
    // Created once: later fences read it, whatever they are set to.
    counter.reads = 0;
    assert.equal((await new GcFence(driver, { quietMs: 5 }).before()).quietMs, mine.quietMs);
    assert.equal(counter.reads, 1);
    // A sweeper set to less waits what was promised.
    await writeSweepState(inner, { generation: 0, sweeping: false, heartbeat: 0, quietMs: 150 });
    const t0 = performance.now();
    const notice = await SweepNotice.begin(inner, 'test', { blobs: [], manifests: [] }, 10);
    assert.ok(performance.now() - t0 >= 145, `began after ${performance.now() - t0} ms`);
    await notice.end();
    assert.equal((await readSweepState(inner)).quietMs, 10, 'the sweep promises its own setting from then on');
  });

  it('a sweeper on a store with no state promises its setting before it announces, and waits it', async () => {
    const inner = createMemoryDriver();
    const t0 = performance.now();
    const notice = await SweepNotice.begin(inner, 'test', { blobs: [], manifests: [] }, 120);
    assert.ok(performance.now() - t0 >= 115, `began after ${performance.now() - t0} ms`);
    await notice.end();
    assert.equal((await readSweepState(inner)).quietMs, 120);
  });

  it('a sweeper that promises nothing still creates the state first, so no writer promises what it will not keep', async () => {
    const { driver, inner, counter } = counting();
    const notice = await SweepNotice.begin(inner, 'test', { blobs: [], manifests: [] }, 0);
    await notice.end();
    const fence = new GcFence(driver, { quietMs: 10_000 });
    const before = await fence.before();
    assert.equal(before.quietMs, undefined, 'a writer set to 10 s created a promise the sweeper did not read');
    assert.equal(await fence.after(before, refs(B)), 'clear');
    assert.equal(counter.reads, 2, 'the write took the shortcut without a promise');
  });

  it('a sweeper waits the longer of its own setting and the previous promise, then promises its own', async () => {
    const inner = createMemoryDriver();
    await writeSweepState(inner, { generation: 1, sweeping: false, heartbeat: 0, quietMs: 200 });
    let t0 = performance.now();
    let notice = await SweepNotice.begin(inner, 'test', { blobs: [], manifests: [] }, 50);
    assert.ok(performance.now() - t0 >= 195, `the sweep re-read after ${performance.now() - t0} ms, less than the 200 ms promised`);
    assert.equal((await readSweepState(inner)).quietMs, 50);
    await notice.end();
    assert.deepEqual(await readSweepState(inner), { generation: 2, sweeping: false, heartbeat: 0, owner: 'test', quietMs: 50 });
    t0 = performance.now();
    notice = await SweepNotice.begin(inner, 'test', { blobs: [], manifests: [] }, 50);
    const waited = performance.now() - t0;
    assert.ok(waited >= 45 && waited < 195, `waited ${waited} ms`);
    await notice.end();
  });

  it('a state written by a Berth that promised nothing (no quietMs) gets both looks', async () => {
    const { driver, inner, counter } = counting();
    await writeSweepState(inner, { generation: 2, sweeping: false, heartbeat: 0 });
    const fence = new GcFence(driver, { quietMs: 10_000 });
    assert.equal(await fence.after(await fence.before(), refs(B)), 'clear');
    assert.equal(counter.reads, 2);
  });
});

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
