import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testConfig } from '../api/server';
import { queueLeftovers, waitForRecord } from '../api/insight-helpers';
import { Pusher, pushImage, type PushedImage } from './images';
import { startInsightRegistry, type InsightRegistry } from './insight-server';

describe('insight: blobs a mirror fetches from its upstream', () => {
  let upstream: InsightRegistry;
  let mirror: InsightRegistry;
  let image: PushedImage;
  let spool = '';
  before(async () => {
    upstream = await startInsightRegistry({ config: testConfig({ insight: { enabled: false } }) });
    image = await pushImage(new Pusher(upstream.url), 'team/app', 'v1', { layers: [[{ name: 'etc/app.conf', content: 'port=80\n' }], [{ name: 'bin/app', content: 'x'.repeat(5000) }]] });
    spool = await mkdtemp(path.join(tmpdir(), 'berth-insight-mirror-'));
    mirror = await startInsightRegistry({ config: testConfig({ mirrors: [{ prefix: 'up', url: upstream.url }], mirror: { spooldirectory: spool } }) });
  });
  after(async () => {
    await mirror?.close();
    await upstream?.close();
    if (spool) await rm(spool, { recursive: true, force: true });
  });

  test('are analysed once fetched, as pushed ones are, without anyone asking for a report', async () => {
    for (const layer of image.layers) {
      const res = await fetch(`${mirror.url}/v2/up/team/app/blobs/${layer.digest}`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    for (const layer of image.layers) {
      const record = await waitForRecord(mirror.driver, layer.digest);
      assert.equal(record.outcome, 'analysed');
      assert.equal(record.fileCount, 1);
    }
    assert.deepEqual((await queueLeftovers(mirror.driver)).jobs, []);
  });
});
