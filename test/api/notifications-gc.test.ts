import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import type { StorageDriver } from '../../storage-drivers/types';
import type { EventAction } from '../../src/config/notifications-schema';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { pushImage, recordingDriver, repoName, type Image } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

const GC_ACTION = 'gc.delete' as EventAction;
const gcEvents = (events: ReceivedEvent[]) => events.filter((e) => e.action === GC_ACTION);

/** A registry collecting every 100 ms with no grace, untagged manifests included, notifying `receiver`. */
async function startCollecting(receiver: EventReceiver, opts: { dryRun?: boolean; ignore?: EventAction[]; driver?: StorageDriver; metrics?: Metrics } = {}) {
  const config = testConfig({
    storage: { delete: { enabled: true }, maintenance: { gc: { enabled: true, interval: '100ms', grace: '0s', deleteuntagged: true, dryrun: opts.dryRun ?? false } } },
    notifications: { endpoints: [{ name: 'receiver', url: receiver.url, backoff: '10ms', maxbackoff: '50ms', ignore: { actions: opts.ignore ?? [] } }] },
  });
  return startRegistry({ config, driver: opts.driver ?? createMemoryDriver(), deps: { eventPollMs: 50, metrics: opts.metrics } });
}

/** Pushes a tagged image and deletes its tag: the manifest, its config and its layer are garbage. */
async function untaggedImage(registry: TestRegistry, repo: string): Promise<Image> {
  const agent = registry.r();
  const image = await pushImage(agent, repo, 'gone');
  assert.equal((await agent.delete(`/v2/${repo}/manifests/gone`)).status, 202);
  return image;
}

async function gcRuns(metrics: Metrics): Promise<number> {
  return (await metrics.gcRuns.get()).values.find((v) => v.labels.result === 'ok')?.value ?? 0;
}

test('the scheduled collection reports each manifest and blob it deletes, as gc.delete, recorded before deleting', async () => {
  const receiver = new EventReceiver();
  await receiver.start();
  const rec = recordingDriver(createMemoryDriver());
  const log = rec.writes;
  const driver: StorageDriver = {
    ...rec.driver,
    delete: async (p) => {
      log.push(`delete ${p}`);
      return rec.driver.delete(p);
    },
  };
  const registry = await startCollecting(receiver, { driver });
  try {
    const repo = repoName('gcevents');
    const image = await untaggedImage(registry, repo);
    const before = log.length;
    registry.app.startBackgroundTasks();
    await receiver.waitFor((events) => gcEvents(events).length >= 4);
    const blob = (c: { digest: string; size: number }) => ({ mediaType: 'application/octet-stream', digest: c.digest, size: c.size, length: c.size });
    const expected = [
      { digest: image.manifest.digest, repository: repo },
      blob(image.manifest),
      blob(image.config),
      blob(image.layer),
    ];
    const targets = gcEvents(receiver.events).map((e) => e.target);
    assert.equal(targets.length, 4, JSON.stringify(targets));
    const key = (t: object) => JSON.stringify(Object.entries(t).sort());
    assert.deepEqual(targets.map(key).sort(), expected.map(key).sort());
    const event = gcEvents(receiver.events)[0];
    assert.deepEqual(event.actor, {});
    assert.match(String(event.source.instanceID), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "a UUID, as Distribution's");
    assert.equal(new Set(gcEvents(receiver.events).map((e) => e.request.id)).size, 1, 'one collection, one request id');

    // Durable before deleted: the journal segment is written before the first deletion.
    const after = log.slice(before);
    const firstDelete = after.findIndex((l) => /^delete .*(\/_manifests\/revisions\/|\/blobs\/sha256\/)/.test(l));
    const firstSegment = after.findIndex((l) => l.includes('/berth/events/segments/'));
    assert.ok(firstDelete >= 0, 'the collection deleted');
    assert.ok(firstSegment >= 0 && firstSegment < firstDelete, `segment at ${firstSegment}, first delete at ${firstDelete}`);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('a dry-run collection reports nothing', async () => {
  const receiver = new EventReceiver();
  await receiver.start();
  const metrics = createMetrics({ defaultMetrics: false });
  const registry = await startCollecting(receiver, { dryRun: true, metrics });
  try {
    const repo = repoName('gcdry');
    const image = await untaggedImage(registry, repo);
    registry.app.startBackgroundTasks();
    const deadline = Date.now() + 10_000;
    while ((await gcRuns(metrics)) < 2) {
      assert.ok(Date.now() < deadline, 'two collections ran');
      await new Promise((r) => setTimeout(r, 50));
    }
    // An event recorded after the collections arrives after anything they could have recorded.
    assert.equal((await registry.r().get(`/v2/${repo}/blobs/${image.layer.digest}`)).status, 200);
    await receiver.waitFor((events) => events.some((e) => e.action === 'pull' && e.target.repository === repo));
    assert.deepEqual(gcEvents(receiver.events), []);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('an endpoint that ignores gc.delete gets no collection events, and the others still arrive', async () => {
  const receiver = new EventReceiver();
  await receiver.start();
  const registry = await startCollecting(receiver, { ignore: [GC_ACTION] });
  try {
    const repo = repoName('gcignored');
    const image = await untaggedImage(registry, repo);
    // Tagged, so kept: pulled once the collection has run (a push now could race the 0 s grace).
    const other = repoName('gcignored');
    await pushImage(registry.r(), other, 'kept');
    registry.app.startBackgroundTasks();
    const deadline = Date.now() + 10_000;
    while ((await registry.r().get(`/v2/${repo}/blobs/${image.layer.digest}`)).status !== 404) {
      assert.ok(Date.now() < deadline, 'the collection deleted the layer');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await registry.r().get(`/v2/${other}/manifests/kept`)).status, 200);
    await receiver.waitFor((events) => events.some((e) => e.action === 'pull' && e.target.repository === other && e.target.tag === 'kept'));
    assert.deepEqual(gcEvents(receiver.events), []);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('a collection whose events cannot be stored deletes nothing', async () => {
  const receiver = new EventReceiver();
  await receiver.start();
  const inner = createMemoryDriver();
  let journalDown = false;
  const driver: StorageDriver = {
    ...inner,
    createExclusive: async (p, d, o) => {
      if (journalDown && p.includes('/berth/events/segments/')) throw new Error('EIO: the journal cannot be written');
      return inner.createExclusive(p, d, o);
    },
  };
  const metrics = createMetrics({ defaultMetrics: false });
  const registry = await startCollecting(receiver, { driver, metrics });
  try {
    const repo = repoName('gcjournal');
    const image = await untaggedImage(registry, repo);
    journalDown = true;
    registry.app.startBackgroundTasks();
    const failed = async () => (await metrics.gcRuns.get()).values.find((v) => v.labels.result === 'failed')?.value ?? 0;
    const deadline = Date.now() + 10_000;
    while ((await failed()) < 2) {
      // (Runs within the collector's 2 s clock slack of the push find nothing to delete, and succeed.)
      assert.ok(Date.now() < deadline, 'two collections failed');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Looked at in storage: a GET would record a pull, which the journal refuses too.
    const hex = (d: string) => d.slice('sha256:'.length);
    const blobData = (d: string) => `/docker/registry/v2/blobs/sha256/${hex(d).slice(0, 2)}/${hex(d)}/data`;
    for (const d of [image.layer.digest, image.config.digest, image.manifest.digest]) await inner.stat(blobData(d));
    await inner.stat(`/docker/registry/v2/repositories/${repo}/_manifests/revisions/sha256/${hex(image.manifest.digest)}/link`);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});
