import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import request from 'supertest';
import { pushImage } from '../api/helpers';
import { startRegistry, testConfig } from '../api/server';
import { distributionSkipReason, startDistribution } from '../helpers/distribution';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';

/** The same requests against a registry: push a tagged image, pull it, delete it. */
async function exercise(url: string): Promise<void> {
  const agent = request.agent(url);
  const image = await pushImage(agent, 'compare/repo', 'v1');
  assert.equal((await agent.get('/v2/compare/repo/manifests/v1').set('Accept', image.manifest.mediaType)).status, 200);
  assert.equal((await agent.get(`/v2/compare/repo/blobs/${image.layer.digest}`)).status, 200);
  assert.equal((await agent.delete(`/v2/compare/repo/manifests/${image.manifest.digest}`)).status, 202);
}

/** An event's shape: its action and the keys each record has. */
function shape(e: ReceivedEvent): string {
  const keys = (o: Record<string, unknown> | undefined) => Object.keys(o ?? {}).sort().join(',');
  return `${e.action} target[${keys(e.target)}] request[${keys(e.request)}] actor[${keys(e.actor)}] source[${keys(e.source)}]`;
}

test("Berth's events have the shape of Distribution 2.8's for the same requests", async (t) => {
  const skip = await distributionSkipReason();
  if (skip) return t.skip(skip);
  const root = await mkdtemp(path.join(tmpdir(), 'berth-events-compare-'));
  const theirs = new EventReceiver();
  const ours = new EventReceiver();
  await theirs.start();
  await ours.start();
  const distribution = await startDistribution({
    rootDirectory: root,
    extraYaml: ['notifications:', '  endpoints:', '    - name: compare', `      url: ${theirs.url}`, '      timeout: 1s', '      threshold: 1', '      backoff: 100ms', ''].join('\n'),
  });
  const berth = await startRegistry({ config: testConfig({ notifications: { endpoints: [{ name: 'compare', url: ours.url }] } }), deps: { eventPollMs: 20 } });
  berth.app.startBackgroundTasks();
  try {
    await exercise(distribution.url);
    await exercise(berth.url);
    const done = (events: ReceivedEvent[]) => events.some((e) => e.action === 'delete');
    await theirs.waitFor(done);
    await ours.waitFor(done);
    await new Promise((r) => setTimeout(r, 500));
    t.diagnostic(`distribution: ${JSON.stringify(theirs.events, null, 1)}`);
    t.diagnostic(`berth: ${JSON.stringify(ours.events, null, 1)}`);
    assert.equal(ours.deliveries[0].contentType, theirs.deliveries[0].contentType);
    assert.deepEqual(ours.events.map(shape), theirs.events.map(shape));
  } finally {
    await berth.close();
    await distribution.stop();
    await theirs.stop();
    await ours.stop();
    await rm(root, { recursive: true, force: true });
  }
});
