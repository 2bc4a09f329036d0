import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { createMetrics } from '../../src/metrics/metrics';
import { isNotFound } from '../../storage-drivers/errors';
import type { StorageDriver } from '../../storage-drivers/types';
import type { ConfigInput } from '../../src/config/schema';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { pushImage, pushManifest, randomBlob, recordingDriver, repoName } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

function notifying(url: string, extra: Record<string, unknown> = {}): ConfigInput {
  return { notifications: { endpoints: [{ name: 'receiver', url, backoff: '10ms', maxbackoff: '50ms', ...extra }] } };
}

/** A registry that records events for `receiver` and delivers them in the background. */
async function startNotifying(receiver: EventReceiver, opts: { driver?: ReturnType<typeof createMemoryDriver>; deliver?: boolean } = {}): Promise<TestRegistry> {
  const registry = await startRegistry({ config: testConfig(notifying(receiver.url)), driver: opts.driver, deps: { eventPollMs: 50 } });
  if (opts.deliver !== false) registry.app.startBackgroundTasks();
  return registry;
}

/** Every file below `dir`; none when it does not exist (the memory driver drops empty directories). */
async function filesUnder(driver: StorageDriver, dir: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const f of driver.walk(dir)) if (!f.isDir) files.push(f.path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return files;
}

const pushesOf = (repo: string) => (events: ReceivedEvent[]) => events.filter((e) => e.action === 'push' && e.target.repository === repo && e.target.tag !== undefined);

describe('notifications: the envelope', () => {
  const receiver = new EventReceiver();
  let registry: TestRegistry;
  before(async () => {
    await receiver.start();
    registry = await startNotifying(receiver);
  });
  after(async () => {
    await registry.close();
    await receiver.stop();
  });

  test('a manifest push is POSTed as Distribution does, field by field', async () => {
    const repo = repoName('events');
    const agent = registry.r();
    const image = await pushImage(agent, repo, 'v1');
    await receiver.waitFor((events) => pushesOf(repo)(events).length === 1);
    const delivery = receiver.deliveries.find((d) => d.body.events.some((e) => e.target.tag === 'v1' && e.target.repository === repo));
    assert.ok(delivery);
    assert.equal(delivery.contentType, EVENTS_MEDIA_TYPE);
    const event = pushesOf(repo)(delivery.body.events)[0];
    assert.match(event.id, /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(Date.parse(event.timestamp) - Date.now()) < 60_000, event.timestamp);
    const host = new URL(registry.url).host;
    assert.deepEqual(event.target, {
      mediaType: image.manifest.mediaType,
      size: image.manifest.size,
      digest: image.manifest.digest,
      length: image.manifest.size,
      repository: repo,
      url: `${registry.url}/v2/${repo}/manifests/${image.manifest.digest}`,
      tag: 'v1',
    });
    assert.equal(event.request.method, 'PUT');
    assert.equal(event.request.host, host);
    assert.match(String(event.request.addr), /^127\.0\.0\.1:\d+$/);
    assert.equal(typeof event.request.id, 'string');
    assert.equal(typeof event.request.useragent, 'string');
    assert.deepEqual(event.actor, {});
    assert.match(String(event.source.addr), /:5000$/);
    assert.match(String(event.source.instanceID), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(event).sort(), ['action', 'actor', 'id', 'request', 'source', 'target', 'timestamp']);
  });

  test('the request record names the request that caused the event', async () => {
    const repo = repoName('events');
    const agent = registry.r();
    const image = await pushImage(agent, repo, 'v1');
    const res = await agent.get(`/v2/${repo}/manifests/v1`).set('User-Agent', 'events-test/1.0');
    assert.equal(res.status, 200);
    await receiver.waitFor((events) => events.some((e) => e.action === 'pull' && e.target.repository === repo));
    const pull = receiver.events.find((e) => e.action === 'pull' && e.target.repository === repo);
    assert.deepEqual(pull?.request.id, res.headers['x-request-id']);
    assert.equal(pull?.request.method, 'GET');
    assert.equal(pull?.request.useragent, 'events-test/1.0');
    assert.equal(pull?.target.tag, 'v1');
    assert.equal(pull?.target.digest, image.manifest.digest);
  });

  test('blob pushes, pulls, mounts and deletes, and manifest and tag deletes, are events', async () => {
    const repo = repoName('events');
    const other = repoName('events');
    const agent = registry.r();
    const image = await pushImage(agent, repo, 'v1');
    assert.equal((await agent.get(`/v2/${repo}/blobs/${image.layer.digest}`)).status, 200);
    assert.equal((await agent.head(`/v2/${repo}/blobs/${image.layer.digest}`)).status, 200);
    assert.equal((await agent.post(`/v2/${other}/blobs/uploads/?mount=${image.layer.digest}&from=${repo}`)).status, 201);
    assert.equal((await agent.delete(`/v2/${other}/blobs/${image.layer.digest}`)).status, 202);
    assert.equal((await agent.delete(`/v2/${repo}/manifests/v1`)).status, 202);
    assert.equal((await agent.delete(`/v2/${repo}/manifests/${image.manifest.digest}`)).status, 202);

    const blob = { mediaType: 'application/octet-stream', size: image.layer.size, length: image.layer.size, digest: image.layer.digest };
    const expected = [
      { action: 'push', target: { ...blob, repository: repo, url: `${registry.url}/v2/${repo}/blobs/${image.layer.digest}` } },
      { action: 'pull', target: { ...blob, repository: repo, url: `${registry.url}/v2/${repo}/blobs/${image.layer.digest}` } },
      // HEAD too, as Distribution.
      { action: 'pull', target: { ...blob, repository: repo, url: `${registry.url}/v2/${repo}/blobs/${image.layer.digest}` } },
      { action: 'mount', target: { ...blob, repository: other, fromRepository: repo, url: `${registry.url}/v2/${other}/blobs/${image.layer.digest}` } },
      { action: 'delete', target: { repository: other, digest: image.layer.digest } },
      { action: 'delete', target: { repository: repo, tag: 'v1' } },
      { action: 'delete', target: { repository: repo, digest: image.manifest.digest } },
    ];
    const mine = (events: ReceivedEvent[]) =>
      events.filter((e) => [repo, other].includes(e.target.repository) && (e.action !== 'push' || e.target.digest === image.layer.digest));
    await receiver.waitFor((events) => mine(events).length >= expected.length);
    // In the order the requests were made: one process, one repository's requests one after another.
    assert.deepEqual(
      mine(receiver.events).map((e) => ({ action: e.action, target: e.target })),
      expected,
    );
  });
});

test('deleting a manifest by digest reports the tags that went with it, as Distribution does', async () => {
  const receiver = new EventReceiver();
  await receiver.start();
  const registry = await startNotifying(receiver);
  try {
    const repo = repoName('untagged');
    const agent = registry.r();
    const image = await pushImage(agent, repo, 'a');
    assert.equal((await pushManifest(agent, repo, 'b', image.manifest)).status, 201);
    assert.equal((await agent.delete(`/v2/${repo}/manifests/${image.manifest.digest}`)).status, 202);
    const deletes = (events: ReceivedEvent[]) => events.filter((e) => e.action === 'delete' && e.target.repository === repo);
    await receiver.waitFor((events) => deletes(events).length >= 3);
    assert.deepEqual(
      deletes(receiver.events).map((e) => e.target),
      [{ repository: repo, digest: image.manifest.digest }, { repository: repo, tag: 'a' }, { repository: repo, tag: 'b' }],
    );
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

describe('notifications: at least once', () => {
  test('a receiver that refuses half the deliveries still gets every event, in order per repository', async () => {
    const receiver = new EventReceiver(() => Math.random() < 0.5);
    await receiver.start();
    const registry = await startNotifying(receiver);
    try {
      const repo = repoName('flaky');
      const agent = registry.r();
      const tags = Array.from({ length: 12 }, (_, i) => `t${i}`);
      for (const tag of tags) await pushImage(agent, repo, tag);
      await receiver.waitFor((events) => new Set(pushesOf(repo)(events).map((e) => e.target.tag)).size === tags.length, 30_000);
      assert.ok(receiver.refused > 0, 'the receiver refused some deliveries');
      // First arrivals in push order; a redelivery may repeat an event but never reorders them.
      const firsts: string[] = [];
      for (const e of pushesOf(repo)(receiver.events)) if (!firsts.includes(e.target.tag as string)) firsts.push(e.target.tag as string);
      assert.deepEqual(firsts, tags);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });

  test('a receiver that is down and comes back gets everything recorded meanwhile', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    await receiver.stop();
    const registry = await startNotifying(receiver);
    try {
      const repo = repoName('down');
      const agent = registry.r();
      for (const tag of ['a', 'b', 'c']) await pushImage(agent, repo, tag);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(receiver.events.length, 0);
      await receiver.start();
      await receiver.waitFor((events) => pushesOf(repo)(events).length >= 3);
      assert.deepEqual(pushesOf(repo)(receiver.events).map((e) => e.target.tag), ['a', 'b', 'c']);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });

  test('events recorded before a restart are delivered after it, by the next process on the store', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    const driver = createMemoryDriver();
    const repo = repoName('restart');
    const first = await startNotifying(receiver, { driver, deliver: false });
    const ids: string[] = [];
    try {
      await pushImage(first.r(), repo, 'before');
    } finally {
      await first.close();
    }
    assert.equal(receiver.events.length, 0, 'the first process never delivered');
    const second = await startNotifying(receiver, { driver });
    try {
      await receiver.waitFor((events) => pushesOf(repo)(events).length === 1);
      ids.push(...receiver.events.map((e) => e.id));
      assert.equal(pushesOf(repo)(receiver.events)[0].target.tag, 'before');
    } finally {
      await second.close();
      await receiver.stop();
    }
    assert.equal(new Set(ids).size, ids.length);
  });

  test('delivered events, and the markers of their delivery, are removed from storage', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    const driver = createMemoryDriver();
    const registry = await startNotifying(receiver, { driver });
    try {
      const repo = repoName('cleanup');
      await pushImage(registry.r(), repo, 'v1');
      await receiver.waitFor((events) => pushesOf(repo)(events).length === 1);
      const deadline = Date.now() + 5_000;
      let left: string[] = [];
      do {
        // The lease stays: it names who delivers, not what is left to deliver.
        left = [...(await filesUnder(driver, '/berth/events/segments')), ...(await filesUnder(driver, '/berth/events/delivered'))];
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      } while (Date.now() < deadline);
      assert.deepEqual(left, []);
    } finally {
      await registry.close();
      await receiver.stop();
    }
  });
});

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
