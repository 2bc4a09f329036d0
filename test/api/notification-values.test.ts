import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { content, manifestDescriptor, MT, ociIndex, pushBlob, pushImage, pushManifest, repoName } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

/** The values of events that Distribution 2.8 sends differently for some requests; the shapes are in notifications.test.ts. */
function start(receiver: EventReceiver, includereferences: boolean): Promise<TestRegistry> {
  return startRegistry({
    config: testConfig({ notifications: { events: { includereferences }, endpoints: [{ name: 'receiver', url: receiver.url, backoff: '10ms' }] } }),
    deps: { eventPollMs: 20 },
  }).then((r) => {
    r.app.startBackgroundTasks();
    return r;
  });
}

const inRepo = (repo: string) => (events: ReceivedEvent[]) => events.filter((e) => e.target.repository === repo);

describe('notification values', () => {
  const receiver = new EventReceiver();
  let registry: TestRegistry;
  let plain: TestRegistry;
  before(async () => {
    await receiver.start();
    registry = await start(receiver, true);
    plain = await start(receiver, false);
  });
  after(async () => {
    await registry.close();
    await plain.close();
    await receiver.stop();
  });

  test('with includereferences, manifest pushes and pulls list what the manifest references, as Distribution', async () => {
    const repo = repoName('refs');
    const agent = registry.r();
    const image = await pushImage(agent, repo, 'v1');
    const index = ociIndex([manifestDescriptor(image.manifest, { platform: { architecture: 'amd64', os: 'linux' }, annotations: { note: 'x' } })]);
    assert.equal((await pushManifest(agent, repo, 'multi', index)).status, 201);
    assert.equal((await agent.head(`/v2/${repo}/manifests/v1`).set('Accept', MT.ociManifest)).status, 200);
    assert.equal((await agent.delete(`/v2/${repo}/manifests/multi`)).status, 202);
    await receiver.waitFor((events) => inRepo(repo)(events).some((e) => e.action === 'delete'));
    const events = inRepo(repo)(receiver.events);
    const imageRefs = [
      { mediaType: MT.ociConfig, size: image.config.size, digest: image.config.digest },
      { mediaType: MT.ociLayer, size: image.layer.size, digest: image.layer.digest },
    ];
    const manifestEvent = (action: string, tag: string) => events.find((e) => e.action === action && e.target.tag === tag);
    assert.deepEqual(manifestEvent('push', 'v1')?.target.references, imageRefs);
    assert.deepEqual(manifestEvent('pull', 'v1')?.target.references, imageRefs, 'a HEAD is a pull, with its references');
    assert.equal(manifestEvent('pull', 'v1')?.request.method, 'HEAD');
    // An index's children without their platform, as Distribution's manifest list reports them.
    assert.deepEqual(manifestEvent('push', 'multi')?.target.references, [{ mediaType: MT.ociManifest, size: image.manifest.size, digest: image.manifest.digest, annotations: { note: 'x' } }]);
    // Blob events and deletes have none.
    assert.ok(events.filter((e) => e.target.tag === undefined).every((e) => e.target.references === undefined));
  });

  test('without includereferences (the default), no event lists references', async () => {
    const repo = repoName('norefs');
    await pushImage(plain.r(), repo, 'v1');
    await receiver.waitFor((events) => inRepo(repo)(events).some((e) => e.target.tag === 'v1'));
    assert.ok(inRepo(repo)(receiver.events).every((e) => !('references' in e.target)));
  });

  test('a target is written in the order of Distribution’s fields, without a zero size, and its time as Go prints it', async () => {
    const repo = repoName('order');
    const empty = content(Buffer.alloc(0));
    await pushBlob(plain.r(), repo, empty);
    await pushImage(plain.r(), repo, 'v1');
    await receiver.waitFor((events) => inRepo(repo)(events).some((e) => e.target.tag === 'v1'));
    const [blob, ...rest] = inRepo(repo)(receiver.events);
    assert.deepEqual(Object.keys(blob.target), ['mediaType', 'digest', 'repository', 'url'], 'Go leaves out a zero size and length');
    assert.deepEqual(Object.keys(rest.find((e) => e.target.tag === 'v1')?.target ?? {}), ['mediaType', 'size', 'digest', 'length', 'repository', 'url', 'tag']);
    for (const e of [blob, ...rest]) assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,5}[1-9])?Z$/);
  });

  test('a conditional GET or HEAD of a manifest the client has answers 304 and is no pull', async () => {
    const repo = repoName('etag');
    const agent = plain.r();
    const image = await pushImage(agent, repo, 'v1');
    const etag = `"${image.manifest.digest}"`;
    for (const ifNoneMatch of [etag, image.manifest.digest, `W/"sha256:other", ${etag}`, '*']) {
      const res = await agent.get(`/v2/${repo}/manifests/v1`).set('Accept', MT.ociManifest).set('If-None-Match', ifNoneMatch);
      assert.equal(res.status, 304, ifNoneMatch);
      assert.equal(res.headers.etag, etag);
      assert.equal((await agent.head(`/v2/${repo}/manifests/${image.manifest.digest}`).set('If-None-Match', ifNoneMatch)).status, 304);
    }
    assert.equal((await agent.get(`/v2/${repo}/manifests/v1`).set('Accept', MT.ociManifest).set('If-None-Match', '"sha256:other"')).status, 200);
    await receiver.waitFor((events) => inRepo(repo)(events).some((e) => e.action === 'pull'));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      inRepo(repo)(receiver.events)
        .filter((e) => e.action === 'pull')
        .map((e) => e.request.method),
      ['GET'],
    );
  });

  test('request.addr is the peer as Go prints it: an IPv4 client of a dual-stack listener as IPv4, never X-Forwarded-For', async () => {
    const server = http.createServer(plain.app.handler);
    await new Promise<void>((resolve) => server.listen(0, '::', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const repo = repoName('addr');
      const agent = request.agent(`http://127.0.0.1:${port}`).set('X-Forwarded-For', '203.0.113.7').set('X-Real-IP', '203.0.113.8');
      await pushImage(agent, repo, 'v1');
      await receiver.waitFor((events) => inRepo(repo)(events).some((e) => e.target.tag === 'v1'));
      for (const e of inRepo(repo)(receiver.events)) assert.match(String(e.request.addr), /^127\.0\.0\.1:\d+$/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
