import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { pushImage, pushManifest, repoName } from './helpers';
import { type TestRegistry } from './server';
import { EVENTS_MEDIA_TYPE, filesUnder, pushesOf, startNotifying } from './notification-helpers';

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
