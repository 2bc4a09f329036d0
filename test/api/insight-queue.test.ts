import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { LayerAnalyser } from '../../src/insight/analyser';
import { AnalysisQueue } from '../../src/insight/analysis-queue';
import type { LayerRecord } from '../../src/insight/layer-records';
import { GarbageCollector } from '../../src/oci/gc';
import { isFile } from '../../src/oci/links';
import { Listing } from '../../src/oci/listing';
import { parseDigest, type Digest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { sha256 } from '../durability/push-client';
import { layerBlob } from '../unit/insight/layers';
import { throwingDriver } from './helpers';
import { AWS_KEY_ID, queueLeftovers, waitForRecord, waitUntil } from './insight-helpers';

const SHORT_CLAIMS = { ttlMs: 600, renewMs: 100, fenceMs: 300 };
const quiet = pino({ level: 'silent' });

function analyser(driver: StorageDriver, analysed: LayerRecord[] = [], pollinterval = 50, takeOverTag?: string): LayerAnalyser {
  return new LayerAnalyser({
    takeOverTag,
    driver,
    config: { concurrency: 2, pollinterval, secretheadbytes: 65536 },
    logger: quiet,
    observer: { queueDepth: () => undefined, analysed: (r) => analysed.push(r) },
    claimTimings: SHORT_CLAIMS,
    awaitPollMs: 20,
    maxRetryMs: 200,
  });
}

/** Stores a layer as an upload would (its data, no repository link) and returns its digest. */
async function storeLayer(driver: StorageDriver, n: number): Promise<Digest> {
  // Random content, so that the blob is longer than a mid-stream fault lets through (1000 bytes).
  const blob = await layerBlob([{ name: `f${n}`, content: randomBytes(4096) }, { name: '.env', content: `AWS=${AWS_KEY_ID}\n` }], 'gzip');
  const d = parseDigest(sha256(blob));
  await driver.putContent(paths.blobData(d), blob);
  return d;
}

describe('the analysis queue in storage', () => {
  let root: string;
  let driver: StorageDriver;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-insight-'));
    driver = createFilesystemDriver({ rootDirectory: root });
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('two analysers sharing a store analyse each of N layers exactly once', async () => {
    const layers = await Promise.all(Array.from({ length: 8 }, (_, i) => storeLayer(driver, i)));
    const seen: LayerRecord[] = [];
    const a = analyser(driver, seen);
    const b = analyser(driver, seen);
    // Queued before either looks, so that both race for every job.
    for (const d of layers) await a.enqueue(d);
    a.start();
    b.start();
    try {
      for (const d of layers) assert.equal((await a.awaitRecord(d, 10_000))?.outcome, 'analysed');
      await waitUntil('an empty queue', async () => (await queueLeftovers(driver)).jobs.length === 0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    assert.deepEqual(seen.map((r) => r.digest).sort(), layers.map((d) => d.value).sort(), 'each layer analysed exactly once');
    assert.deepEqual(await queueLeftovers(driver), { jobs: [], claims: [] });
  });

  it('a job whose holder died is taken over once its claim expires', async () => {
    const d = await storeLayer(driver, 100);
    const queue = new AnalysisQueue(driver, SHORT_CLAIMS);
    await queue.add(d);
    const dead = await queue.claim(d);
    await dead.end(); // no more renewals, the claim left as it is: what SIGKILL leaves
    const a = analyser(driver);
    const started = Date.now();
    a.start();
    try {
      const record = await waitForRecord(driver, d.value);
      assert.equal(record.outcome, 'analysed');
      assert.ok(Date.now() - started >= SHORT_CLAIMS.ttlMs - 100, `taken over after ${Date.now() - started} ms, before the claim expired`);
      await waitUntil('an empty queue', async () => (await queueLeftovers(driver)).claims.length === 0);
    } finally {
      await a.stop();
    }
  });

  it("a live claim carrying the analyser's takeOverTag is taken over for a request waiting for it, and only then", async () => {
    const d = await storeLayer(driver, 150);
    const holders = new AnalysisQueue(driver, SHORT_CLAIMS, { tag: 'child-of-a' });
    await holders.add(d);
    // Alive and renewing, as a child stopped by the scheduler is not: only its owner name tells.
    const held = await holders.claim(d);
    const stranger = analyser(driver, [], 50, 'child-of-b');
    const a = analyser(driver, [], 50, 'child-of-a');
    stranger.start();
    a.start();
    try {
      assert.equal(await stranger.awaitRecord(d, 400), null, "another server's child's claim was taken");
      // Background analysis leaves the holder alone: a second and a half is more than two claims' lifetimes renewed.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(await waitForRecord(driver, d.value, 0).catch(() => null), null, 'taken over without a request waiting');
      assert.equal((await a.awaitRecord(d, 5_000))?.outcome, 'analysed');
      await new Promise((r) => setTimeout(r, SHORT_CLAIMS.renewMs * 3));
      assert.throws(() => held.assertHeld(), /stopped/, 'the holder did not find its claim gone');
      await waitUntil('an empty queue', async () => (await queueLeftovers(driver)).jobs.length === 0);
    } finally {
      await held.release();
      await Promise.all([a.stop(), stranger.stop()]);
    }
  });

  it('drops the job of a blob deleted before its analysis', async () => {
    const d = await storeLayer(driver, 200);
    const a = analyser(driver);
    await a.enqueue(d);
    await driver.delete(paths.blobDir(d));
    a.start();
    try {
      await waitUntil('the job dropped', async () => !(await isFile(driver, paths.insightJob(d))));
    } finally {
      await a.stop();
    }
    assert.equal(await isFile(driver, paths.insightLayerRecord(d)), false);
  });

  it('garbage collection removes the analysis with its blob', async () => {
    const d = await storeLayer(driver, 300);
    const a = analyser(driver);
    a.start();
    try {
      await a.enqueue(d);
      await waitForRecord(driver, d.value);
    } finally {
      await a.stop();
    }
    const report = await new GarbageCollector(driver, new Listing(driver)).collect({ grace: 0, deleteUntagged: false, dryRun: false, now: Date.now() + 60_000 });
    assert.ok(report.blobs.some((b) => b.digest === d.value));
    assert.equal(await isFile(driver, paths.insightLayerRecord(d)), false);
    assert.equal(await isFile(driver, paths.insightFileList(d)), false);
  });
});

describe('storage faults during an analysis', () => {
  for (const mode of [{ errno: 'ENOSPC' }, 'mid-stream'] as const) {
    it(`${typeof mode === 'string' ? 'a blob read failing mid-way' : mode.errno} leaves the job queued with no record, and it completes once storage recovers`, async () => {
      const inner = createMemoryDriver();
      const control = throwingDriver(inner);
      const d = await storeLayer(inner, 1);
      const a = analyser(control.driver);
      await a.enqueue(d);
      control.setFailing(mode);
      a.start();
      try {
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(await isFile(inner, paths.insightLayerRecord(d)), false, 'a record was written despite the fault');
        assert.equal(await isFile(inner, paths.insightJob(d)), true, 'the job left the queue');
        control.setFailing('off');
        assert.equal((await waitForRecord(inner, d.value)).outcome, 'analysed');
        await waitUntil('an empty queue', async () => (await queueLeftovers(inner)).jobs.length === 0);
        assert.deepEqual(await queueLeftovers(inner), { jobs: [], claims: [] });
      } finally {
        control.setFailing('off');
        await a.stop();
      }
    });
  }
});

describe('awaitRecord', () => {
  it('queues a blob that has neither record nor job, and answers null once the time is up', async () => {
    const driver = createMemoryDriver();
    const d = await storeLayer(driver, 5);
    const idle = analyser(driver);
    assert.equal(await idle.awaitRecord(d, 50), null);
    assert.equal(await isFile(driver, paths.insightJob(d)), true);
    const running = analyser(driver);
    running.start();
    try {
      const record = await running.awaitRecord(d, 5000);
      assert.ok(record?.findings.some((f) => f.rule === 'aws-access-key-id'));
    } finally {
      await running.stop();
    }
  });
});
