import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { createMetrics } from '../../src/metrics/metrics';
import type { StorageDriver } from '../../storage-drivers/types';
import { EventReceiver } from '../helpers/event-receiver';
import { pushImage, randomBlob, recordingDriver, repoName } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';
import { filesUnder, notifying, pushesOf, startNotifying } from './notification-helpers';

/** A store whose event segment writes take `delayMs` and then fail when `failing` says so, counting them. */
function eventStore(opts: { delayMs?: number; failing?: () => boolean } = {}) {
  const inner = createMemoryDriver();
  const state = { segmentWrites: 0, durability: [] as boolean[] };
  const driver: StorageDriver = {
    ...recordingDriver(inner).driver,
    createExclusive: async (p, d, o) => {
      if (!p.startsWith('/berth/events/segments/')) return inner.createExclusive(p, d, o);
      state.segmentWrites += 1;
      state.durability.push(o?.durable !== false);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 0));
      if (opts.failing?.()) throw new Error('EIO: event segment write failed');
      return inner.createExclusive(p, d, o);
    },
  };
  return { driver, state };
}

describe('notifications: recorded before acknowledged', () => {
  test('a request whose event cannot be stored is not acknowledged', async () => {
    let failing = true;
    const { driver } = eventStore({ failing: () => failing });
    const registry = await startRegistry({ config: testConfig(notifying('http://127.0.0.1:9/')), driver });
    try {
      const repo = repoName('unrecorded');
      const agent = registry.r();
      failing = false;
      await pushImage(agent, repo, 'v1');
      failing = true;
      const res = await agent.get(`/v2/${repo}/manifests/v1`);
      assert.ok(res.status >= 500, `status ${res.status}`);
      failing = false;
      assert.equal((await agent.get(`/v2/${repo}/manifests/v1`)).status, 200);
    } finally {
      await registry.close();
    }
  });

  test('push events are written durably, pull events without a sync (they need only survive a crash of Berth)', async () => {
    const { driver, state } = eventStore();
    const registry = await startRegistry({ config: testConfig(notifying('http://127.0.0.1:9/')), driver });
    try {
      const repo = repoName('durability');
      const agent = registry.r();
      await pushImage(agent, repo, 'v1');
      const pushes = state.durability.splice(0);
      assert.ok(pushes.length > 0 && pushes.every(Boolean), `push segments durable: ${pushes.join()}`);
      assert.equal((await agent.get(`/v2/${repo}/manifests/v1`)).status, 200);
      assert.deepEqual(state.durability, [false]);
    } finally {
      await registry.close();
    }
  });

  test('concurrent requests share event writes, delivered in envelopes of at most 100 events', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    const { driver, state } = eventStore({ delayMs: 200 });
    const registry = await startRegistry({ config: testConfig(notifying(receiver.url)), driver, deps: { eventPollMs: 50 } });
    registry.app.startBackgroundTasks();
    try {
      const repo = repoName('batched');
      const agent = registry.r();
      const blobs = Array.from({ length: 150 }, () => randomBlob(64));
      const statuses = await Promise.all(
        blobs.map(async (b) => (await agent.post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Content-Type', 'application/octet-stream').send(b.data)).status),
      );
      assert.deepEqual(statuses, blobs.map(() => 201));
      assert.ok(state.segmentWrites < blobs.length / 10, `${state.segmentWrites} segment writes for ${blobs.length} pushes`);
      await receiver.waitFor((events) => new Set(events.filter((e) => e.target.repository === repo).map((e) => e.target.digest)).size === blobs.length);
      assert.ok(Math.max(...receiver.deliveries.map((d) => d.body.events.length)) <= 100);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });
});

describe('notifications: replicas on one store', () => {
  test('each event is delivered by one of them', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    const driver = createMemoryDriver();
    const replicas = [await startNotifying(receiver, { driver }), await startNotifying(receiver, { driver })];
    try {
      const repo = repoName('replicas');
      const tags = Array.from({ length: 8 }, (_, i) => `r${i}`);
      for (const [i, tag] of tags.entries()) await pushImage(replicas[i % 2].r(), repo, tag);
      await receiver.waitFor((events) => pushesOf(repo)(events).length >= tags.length);
      // Time for a second delivery of anything, were both replicas delivering.
      await new Promise((r) => setTimeout(r, 300));
      const ids = receiver.events.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
      assert.deepEqual(pushesOf(repo)(receiver.events).map((e) => e.target.tag), tags);
      assert.equal(new Set(pushesOf(repo)(receiver.events).map((e) => e.source.instanceID)).size, 2, 'events recorded by both');
    } finally {
      for (const r of replicas) await r.close();
      await receiver.stop();
    }
  });

  test('when the delivering replica stops, another takes its endpoints over', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    const driver = createMemoryDriver();
    const first = await startNotifying(receiver, { driver });
    const repo = repoName('handover');
    await pushImage(first.r(), repo, 'one');
    await receiver.waitFor((events) => pushesOf(repo)(events).length === 1);
    const second = await startNotifying(receiver, { driver });
    try {
      await first.close();
      await pushImage(second.r(), repo, 'two');
      await receiver.waitFor((events) => pushesOf(repo)(events).length === 2);
    } finally {
      await second.close();
      await receiver.stop();
    }
  });
});

describe('notifications: a full backlog', () => {
  const backlogConfig = (url: string, full: 'dropoldest' | 'refuse') =>
    testConfig({ notifications: { endpoints: [{ name: 'receiver', url, backoff: '10ms', maxbackoff: '20ms' }], backlog: { maxevents: 4, full } } });

  async function pushBlobs(agent: ReturnType<TestRegistry['r']>, repo: string, n: number): Promise<{ digests: string[]; statuses: number[] }> {
    const digests: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = randomBlob(32);
      digests.push(b.digest);
      statuses.push((await agent.post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Content-Type', 'application/octet-stream').send(b.data)).status);
    }
    return { digests, statuses };
  }

  test('dropoldest: the oldest events beyond the bound are dropped, the newest delivered', async () => {
    let accepting = false;
    const receiver = new EventReceiver(() => accepting);
    await receiver.start();
    const driver = createMemoryDriver();
    const registry = await startRegistry({ config: backlogConfig(receiver.url, 'dropoldest'), driver, deps: { eventPollMs: 20 } });
    registry.app.startBackgroundTasks();
    try {
      const repo = repoName('dropped');
      const { digests, statuses } = await pushBlobs(registry.r(), repo, 10);
      assert.deepEqual(statuses, digests.map(() => 201));
      const deadline = Date.now() + 5_000;
      while ((await filesUnder(driver, '/berth/events/segments')).length > 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      accepting = true;
      await receiver.waitFor((events) => digests.slice(6).every((d) => events.some((e) => e.target.digest === d)));
      await new Promise((r) => setTimeout(r, 100));
      const received = new Set(receiver.events.map((e) => e.target.digest));
      assert.deepEqual(digests.slice(0, 6).filter((d) => received.has(d)), []);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });

  test('refuse: requests that would add events beyond the bound get 503 until receivers catch up', async () => {
    let accepting = false;
    const receiver = new EventReceiver(() => accepting);
    await receiver.start();
    const registry = await startRegistry({ config: backlogConfig(receiver.url, 'refuse'), deps: { eventPollMs: 20 } });
    registry.app.startBackgroundTasks();
    try {
      const repo = repoName('refused');
      const agent = registry.r();
      const { digests, statuses } = await pushBlobs(agent, repo, 6);
      assert.deepEqual(statuses, [201, 201, 201, 201, 503, 503]);
      const b = randomBlob(32);
      const refused = await agent.post(`/v2/${repo}/blobs/uploads/?digest=${b.digest}`).set('Content-Type', 'application/octet-stream').send(b.data);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '30');
      assert.equal((refused.body as { errors: { code: string }[] }).errors[0].code, 'UNAVAILABLE');
      accepting = true;
      await receiver.waitFor((events) => digests.slice(0, 4).every((d) => events.some((e) => e.target.digest === d)));
      const deadline = Date.now() + 5_000;
      let again = 0;
      while (again !== 201 && Date.now() < deadline) {
        again = (await pushBlobs(agent, repo, 1)).statuses[0];
        if (again !== 201) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(again, 201);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });
});

describe('notifications: metrics per endpoint', () => {
  test('pending, delivered, failed and the age of the oldest pending event', async () => {
    let accepting = false;
    const receiver = new EventReceiver(() => accepting);
    await receiver.start();
    const metrics = createMetrics({ defaultMetrics: false });
    const registry = await startRegistry({ config: testConfig(notifying(receiver.url)), deps: { eventPollMs: 20, metrics } });
    registry.app.startBackgroundTasks();
    const value = async (name: string) =>
      (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.endpoint === 'receiver')?.value ?? 0;
    try {
      const repo = repoName('metered');
      await pushImage(registry.r(), repo, 'v1');
      await receiver.waitFor(() => receiver.refused > 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(await value('berth_notification_events_pending'), 3, 'two blob pushes and a manifest push');
      assert.ok((await value('berth_notification_delivery_failures_total')) >= 2);
      assert.ok((await value('berth_notification_oldest_pending_seconds')) > 0);
      assert.equal(await value('berth_notification_events_delivered_total'), 0);
      accepting = true;
      await receiver.waitFor((events) => pushesOf(repo)(events).length === 1);
      const deadline = Date.now() + 5_000;
      while ((await value('berth_notification_events_pending')) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await value('berth_notification_events_pending'), 0);
      assert.equal(await value('berth_notification_oldest_pending_seconds'), 0);
      assert.equal(await value('berth_notification_events_delivered_total'), 3);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });
});

describe('notifications: off', () => {
  test('without endpoints, or with every endpoint disabled, nothing is written for events', async () => {
    for (const config of [testConfig(), testConfig(notifying('http://127.0.0.1:9/', { disabled: true }))]) {
      const { driver, writes } = recordingDriver(createMemoryDriver());
      const registry = await startRegistry({ config, driver });
      registry.app.startBackgroundTasks();
      try {
        await pushImage(registry.r(), repoName('off'), 'v1');
        assert.deepEqual(writes.filter((p) => p.startsWith('/berth/events')), []);
      } finally {
        await registry.close();
      }
    }
  });

  test('an endpoint that ignores an action or a media type gets none of those events', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    const config = testConfig(
      notifying(receiver.url, { ignore: { actions: ['pull'], mediatypes: ['application/octet-stream'] } }),
    );
    const registry = await startRegistry({ config, deps: { eventPollMs: 50 } });
    registry.app.startBackgroundTasks();
    try {
      const repo = repoName('ignored');
      const agent = registry.r();
      await pushImage(agent, repo, 'v1');
      assert.equal((await agent.get(`/v2/${repo}/manifests/v1`)).status, 200);
      await pushImage(agent, repo, 'v2');
      await receiver.waitFor((events) => pushesOf(repo)(events).length === 2);
      assert.deepEqual(
        receiver.events.filter((e) => e.target.repository === repo).map((e) => [e.action, e.target.tag]),
        [['push', 'v1'], ['push', 'v2']],
      );
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });
});
