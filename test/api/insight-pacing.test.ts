import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { LayerAnalyser } from '../../src/insight/analyser';
import { readLayerRecord } from '../../src/insight/layer-records';
import { RequestActivity } from '../../src/insight/pacer';
import { parseDigest, type Digest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { sha256 } from '../durability/push-client';
import { layerBlob } from '../unit/insight/layers';
import { waitForRecord } from './insight-helpers';

/** 16 MiB of incompressible files: 16 reads of the filesystem driver's 1 MiB, each paced while busy. */
async function storeBigLayer(driver: StorageDriver): Promise<Digest> {
  const files = Array.from({ length: 16 }, (_, i) => ({ name: `data/f${i}`, content: randomBytes(1024 * 1024) }));
  const blob = await layerBlob(files, 'gzip');
  const d = parseDigest(sha256(blob));
  await driver.putContent(paths.blobData(d), blob);
  return d;
}

describe('analysis yields to requests in flight', () => {
  let root: string;
  let driver: StorageDriver;
  const activity = new RequestActivity();
  let analyser: LayerAnalyser;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-insight-pacing-'));
    driver = createFilesystemDriver({ rootDirectory: root });
    // A share so small that every chunk pauses the longest (250 ms) while busy: the test does not
    // depend on how fast this machine scans.
    analyser = new LayerAnalyser({ driver, config: { concurrency: 1, pollinterval: 50, secretheadbytes: 65536 }, logger: pino({ level: 'silent' }), activity, busyShare: 0.0001 });
    analyser.start();
  });
  after(async () => {
    await analyser.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('while a request is in flight the analysis crawls; once none is, it finishes at once', async () => {
    const d = await storeBigLayer(driver);
    activity.enter();
    try {
      await analyser.enqueue(d);
      // 16 chunks of at least 250 ms each: 4 s while busy.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await readLayerRecord(driver, d), null, 'the analysis ran at full speed beside a request');
    } finally {
      activity.leave();
    }
    const started = Date.now();
    assert.equal((await waitForRecord(driver, d.value, 10_000)).outcome, 'analysed');
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms once idle`);
  });

  it('a job a request waits for (a push under deny) runs at full speed beside requests, ahead of a paced one', async () => {
    const slow = await storeBigLayer(driver);
    const awaited = await storeBigLayer(driver);
    activity.enter();
    try {
      await analyser.enqueue(slow);
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const record = await analyser.awaitRecord(awaited, 10_000);
      assert.equal(record?.outcome, 'analysed');
      assert.ok(Date.now() - started < 3500, `the awaited job took ${Date.now() - started} ms`);
      assert.equal(await readLayerRecord(driver, slow), null, 'the paced job was not paced');
    } finally {
      activity.leave();
    }
    await waitForRecord(driver, slow.value, 10_000);
  });
});
