import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthProcess } from '../helpers/berth-process';
import { EventReceiver } from '../helpers/event-receiver';
import { OCI_MANIFEST } from '../helpers/images';
import { imageManifest, pushMonolithic, randomBlob } from '../replicas/oci-http';
import { onNewConnection, startGroup, until, workerOf } from './group';

/** The deliverer's poll for segments it was not told about (src/events/notifier.ts). */
const POLL_MS = 2_000;

describe('workers: event delivery', () => {
  let dir: string;
  let berth: BerthProcess | undefined;
  const receiver = new EventReceiver();

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-events-'));
    await receiver.start();
  });
  after(async () => {
    await berth?.stop();
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('an event recorded by a worker other than the deliverer (slot 0) is delivered well under the poll interval', async () => {
    berth = await startGroup(path.join(dir, 'store'), 2, { REGISTRY_NOTIFICATIONS_ENDPOINTS: JSON.stringify([{ name: 'audit', url: receiver.url }]) });
    const name = 'workers/prompt';
    const config = randomBlob(100);
    const layer = randomBlob(300);
    for (const b of [config, layer]) await pushMonolithic(berth.url, name, b);
    const manifest = imageManifest(config, [layer]);
    const delivered = (tag: string) => receiver.events.some((e) => e.action === 'push' && e.target.tag === tag);
    // Each push follows the previous delivery at once: slot 0 has just delivered and sleeps for a
    // whole poll, so only being told can bring the next event out sooner.
    const delays: number[] = [];
    for (let i = 0; delays.length < 3; i++) {
      assert.ok(i < 20, 'the primary hands connections to both workers');
      const tag = `t${i}`;
      const put = await onNewConnection(`${berth.url}/v2/${name}/manifests/${tag}`, { method: 'PUT', body: manifest.bytes, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(put.status, 201);
      const answered = Date.now();
      await until(`the push of ${tag}`, () => delivered(tag), 3 * POLL_MS);
      if ((await workerOf(berth, put.headers['x-request-id'] as string)) !== 0) delays.push(Date.now() - answered);
    }
    for (const ms of delays) assert.ok(ms < POLL_MS / 2, `delivered ${ms} ms after the answer (all: ${delays.join(', ')})`);
  });
});
