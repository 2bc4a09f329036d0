import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import type { BerthProcess } from '../helpers/berth-process';
import { waitForRecord } from '../api/insight-helpers';
import { randomBlob } from '../replicas/oci-http';
import { onNewConnection, startGroup, workerOf } from './group';

describe('workers: image analysis', () => {
  let dir: string;
  let berth: BerthProcess | undefined;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-insight-'));
  });
  after(async () => {
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a blob pushed to a worker other than slot 0 is analysed at once, not at the children’s next look', async () => {
    const root = path.join(dir, 'store');
    // The children look at the queue once when they start, then only when told.
    berth = await startGroup(root, 2, { REGISTRY_INSIGHT_POLLINTERVAL: '1h' });
    const driver = createFilesystemDriver({ rootDirectory: root });
    // A blob of slot 1 counts once one of slot 0's is analysed: by then the children's first look is
    // over, and only being told can bring them to a blob queued later.
    let looked = false;
    for (let i = 0; ; i++) {
      assert.ok(i < 40, 'the primary hands connections to both workers');
      const blob = randomBlob(1000);
      // A monolithic upload in one request, so that one worker queues it.
      const put = await onNewConnection(`${berth.url}/v2/workers/analysed/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: blob.data, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(put.status, 201);
      const slot = await workerOf(berth, put.headers['x-request-id'] as string);
      assert.equal((await waitForRecord(driver, blob.digest, 10_000)).outcome, 'not-a-layer', `the blob pushed to worker ${slot}`);
      if (slot === 0) looked = true;
      else if (looked) break;
    }
  });
});
