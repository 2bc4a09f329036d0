import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { storedEntries } from '../../src/insight/layer-records';
import { zstdAvailable } from '../../src/insight/layer-media-types';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { parseDigest } from '../../src/oci/digest';
import { isFile } from '../../src/oci/links';
import { paths } from '../../src/oci/paths';
import { pushChunked, pushMonolithic, sha256 } from '../durability/push-client';
import { layerBlob } from '../unit/insight/layers';
import { AWS_KEY_ID, metricValue, queueLeftovers, waitForRecord, waitUntil } from './insight-helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

const FILES = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/app.conf', content: 'listen 80\n' },
  { name: 'home/dev/.aws/credentials', content: `[default]\naws_access_key_id = ${AWS_KEY_ID}\n` },
  { name: 'bin/tool', content: Buffer.alloc(5000, 7) },
];

describe('the analysis of pushed blobs', () => {
  const driver = createMemoryDriver();
  let reg: TestRegistry;
  let metrics: Metrics;

  before(async () => {
    metrics = createMetrics({ defaultMetrics: false });
    reg = await startRegistry({ driver, config: testConfig({ insight: { pollinterval: '50ms' } }), deps: { metrics } });
    reg.app.startBackgroundTasks();
  });
  after(async () => reg.close());

  it('a gzip layer gets its record (sizes, counts, the planted key) and a readable file list', async () => {
    const blob = await layerBlob(FILES, 'gzip');
    const digest = await pushMonolithic(reg.url, 'insight/gzip', blob);
    const record = await waitForRecord(driver, digest);
    assert.equal(record.outcome, 'analysed');
    assert.equal(record.format, 'gzip');
    assert.equal(record.digest, digest);
    assert.equal(record.compressedSize, blob.length);
    assert.equal(record.uncompressedSize, zlib.gunzipSync(blob).length);
    assert.equal(record.fileCount, 3);
    assert.equal(record.entryCount, 4);
    assert.deepEqual(
      record.findings.map((f) => [f.path, f.rule]),
      [['home/dev/.aws/credentials', 'aws-access-key-id']],
    );
    const entries = [];
    for await (const e of storedEntries(driver, parseDigest(digest))) entries.push(e);
    assert.deepEqual(
      entries.map((e) => [e.path, e.type, e.size]),
      [['etc', 'dir', 0], ['etc/app.conf', 'file', 10], ['home/dev/.aws/credentials', 'file', Buffer.byteLength(FILES[2].content as string)], ['bin/tool', 'file', 5000]],
    );
    assert.equal(entries[3].digest, sha256(Buffer.alloc(5000, 7)));
  });

  it('an uncompressed tar pushed in chunks is analysed too', async () => {
    const blob = await layerBlob(FILES, 'none');
    const digest = await pushChunked(reg.url, 'insight/tar', blob);
    const record = await waitForRecord(driver, digest);
    assert.equal(record.outcome, 'analysed');
    assert.equal(record.format, 'tar');
    assert.equal(record.compressedSize, blob.length);
    assert.equal(record.uncompressedSize, blob.length);
    assert.equal(record.fileCount, 3);
  });

  it('a zstd layer is analysed where Node.js reads zstd', { skip: typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress !== 'function' && 'no zstd in this Node.js' }, async () => {
    const blob = await layerBlob(FILES, 'zstd');
    const digest = await pushMonolithic(reg.url, 'insight/zstd', blob);
    const record = await waitForRecord(driver, digest);
    assert.equal(record.outcome, 'analysed');
    assert.equal(record.format, 'zstd');
    assert.equal(record.findings.length, 1);
  });

  it('zstd bytes fail with compression-unavailable where Node.js has no zstd (layer-corrupt where it reads them)', async () => {
    const bytes = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100, 0x42)]);
    const digest = await pushMonolithic(reg.url, 'insight/zstd', bytes);
    const record = await waitForRecord(driver, digest);
    assert.equal(record.outcome, 'failed');
    assert.equal(record.format, 'zstd');
    assert.equal(record.error?.kind, zstdAvailable() ? 'layer-corrupt' : 'compression-unavailable');
  });

  it('a config is not a layer, and bad gzip fails with layer-corrupt', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const configDigest = await pushMonolithic(reg.url, 'insight/odd', config);
    const good = await layerBlob(FILES, 'gzip');
    const corrupt = Buffer.concat([good.subarray(0, 40), Buffer.alloc(200, 0x55)]);
    const corruptDigest = await pushMonolithic(reg.url, 'insight/odd', corrupt);
    const notLayer = await waitForRecord(driver, configDigest);
    assert.equal(notLayer.outcome, 'not-a-layer');
    assert.equal(notLayer.compressedSize, config.length);
    assert.equal(notLayer.format, undefined);
    const failed = await waitForRecord(driver, corruptDigest);
    assert.equal(failed.outcome, 'failed');
    assert.equal(failed.format, 'gzip');
    assert.equal(failed.error?.kind, 'layer-corrupt');
    assert.equal(await isFile(driver, paths.insightFileList(parseDigest(corruptDigest))), false, 'a failed layer keeps no file list');
  });

  it('counts what it analysed, and leaves no marker or claim once done', async () => {
    await waitUntil('an empty queue', async () => (await queueLeftovers(driver)).jobs.length === 0);
    assert.deepEqual(await queueLeftovers(driver), { jobs: [], claims: [] });
    const text = await metrics.registry.metrics();
    assert.ok(metricValue(text, 'berth_insight_layers_analysed_total{outcome="analysed"}') >= 2);
    assert.equal(metricValue(text, 'berth_insight_layers_analysed_total{outcome="not-a-layer"}'), 1);
    assert.equal(metricValue(text, 'berth_insight_layers_analysed_total{outcome="failed"}'), 2);
    assert.ok(metricValue(text, 'berth_insight_findings_total{rule="aws-access-key-id"}') >= 2);
    assert.ok(metricValue(text, 'berth_insight_bytes_analysed_total') > 0);
    assert.ok(metricValue(text, 'berth_insight_analysis_seconds_count') >= 4);
  });
});

/** A driver whose writes under /berth/insight wait for `open()` (or fail, with `fail`). */
function gatedInsightWrites(inner: StorageDriver): { driver: StorageDriver; open(): void; fail(on: boolean): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let failing = false;
  const driver = Object.create(inner) as StorageDriver;
  driver.putContent = async (path, data, opts) => {
    if (path.startsWith('/berth/insight/')) {
      if (failing) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      await gate;
    }
    return inner.putContent(path, data, opts);
  };
  return { driver, open: release, fail: (on) => (failing = on) };
}

describe('a push does not wait for its analysis', () => {
  const inner = createMemoryDriver();
  const gated = gatedInsightWrites(inner);
  let reg: TestRegistry;

  before(async () => {
    reg = await startRegistry({ driver: gated.driver, config: testConfig({ insight: { pollinterval: '50ms' } }) });
    reg.app.startBackgroundTasks();
  });
  after(async () => {
    gated.open();
    await reg.close();
  });

  it('answers 201 while the queue write hangs, and the layer is analysed once it goes through', async () => {
    const blob = await layerBlob(FILES, 'gzip');
    const started = Date.now();
    const digest = await pushMonolithic(reg.url, 'insight/slow', blob);
    assert.ok(Date.now() - started < 2000, 'the push waited for its analysis');
    assert.equal(await isFile(inner, paths.insightJob(parseDigest(digest))), false);
    gated.open();
    assert.equal((await waitForRecord(inner, digest)).outcome, 'analysed');
  });

  it('answers 201 when the queue write fails', async () => {
    gated.fail(true);
    try {
      await pushMonolithic(reg.url, 'insight/slow', await layerBlob([{ name: 'x', content: 'y' }], 'gzip'));
    } finally {
      gated.fail(false);
    }
  });
});

describe('a registry that never starts its analyser', () => {
  const driver = createMemoryDriver();
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ driver });
  });
  after(async () => reg.close());

  it('queues pushed blobs in storage but analyses none; a mount queues nothing', async () => {
    const blob = await layerBlob(FILES, 'gzip');
    const digest = await pushMonolithic(reg.url, 'insight/idle', blob);
    const job = paths.insightJob(parseDigest(digest));
    await waitUntil('the marker', () => isFile(driver, job));
    await driver.delete(job);
    const mounted = await fetch(`${reg.url}/v2/insight/other/blobs/uploads/?mount=${digest}&from=insight/idle`, { method: 'POST' });
    assert.equal(mounted.status, 201);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await isFile(driver, job), false);
    assert.equal(await isFile(driver, paths.insightLayerRecord(parseDigest(digest))), false);
  });
});

describe('insight.enabled: false', () => {
  const driver = createMemoryDriver();
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ driver, config: testConfig({ insight: { enabled: false } }) });
    reg.app.startBackgroundTasks();
  });
  after(async () => reg.close());

  it('writes nothing under /berth/insight', async () => {
    await pushMonolithic(reg.url, 'insight/off', await layerBlob(FILES, 'gzip'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await queueLeftovers(driver), { jobs: [], claims: [] });
  });
});
