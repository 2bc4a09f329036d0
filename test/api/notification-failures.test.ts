import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { EventReceiver, type Delivery, type ReceivedEvent } from '../helpers/event-receiver';
import { pushImage, repoName } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

/** A registry delivering to `receiver` through one endpoint with these extra keys. */
async function notifying(receiver: EventReceiver, endpoint: Record<string, unknown>, driver = createMemoryDriver()): Promise<{ registry: TestRegistry; metrics: Metrics; driver: typeof driver }> {
  const metrics = createMetrics({ defaultMetrics: false });
  const config = testConfig({ notifications: { endpoints: [{ name: 'receiver', url: receiver.url, ...endpoint }] } });
  const registry = await startRegistry({ config, driver, deps: { eventPollMs: 20, metrics } }).catch(async (err: unknown) => {
    await receiver.stop();
    throw err;
  });
  registry.app.startBackgroundTasks();
  return { registry, metrics, driver };
}

async function gauge(metrics: Metrics, name: string): Promise<number> {
  return (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.endpoint === 'receiver')?.value ?? 0;
}

async function until(what: string, done: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tagged = (tag: string) => (body: Delivery['body']) => body.events.some((e) => e.target.tag === tag);
const tags = (events: ReceivedEvent[]) => events.flatMap((e) => (e.action === 'push' && e.target.tag ? [e.target.tag] : []));

test('threshold: the first failures in a row are retried at once, as in Distribution; beyond it the endpoint is failing and backs off', async () => {
  let refuse = 2;
  const receiver = new EventReceiver(() => refuse-- <= 0);
  await receiver.start();
  const { registry, metrics } = await notifying(receiver, { threshold: 3, backoff: '10s' });
  try {
    await pushImage(registry.r(), repoName('threshold'), 'v1');
    // Two failures are under the threshold: no 10 s wait before the third attempt.
    await receiver.waitFor((events) => tags(events).includes('v1'), 3_000);
    assert.equal(await gauge(metrics, 'berth_notification_endpoint_failing'), 0);

    refuse = Infinity;
    const refusedBefore = receiver.refused;
    await pushImage(registry.r(), repoName('threshold'), 'v2');
    await until('the endpoint is marked failing', async () => (await gauge(metrics, 'berth_notification_endpoint_failing')) === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.refused - refusedBefore, 3, 'three attempts in a row, then the 10 s backoff');
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('an endpoint that was failing is marked recovered once an envelope goes through', async () => {
  let accepting = false;
  const receiver = new EventReceiver(() => accepting);
  await receiver.start();
  const { registry, metrics } = await notifying(receiver, { threshold: 1, backoff: '20ms', maxbackoff: '20ms' });
  try {
    await pushImage(registry.r(), repoName('recover'), 'v1');
    await until('failing', async () => (await gauge(metrics, 'berth_notification_endpoint_failing')) === 1);
    accepting = true;
    await receiver.waitFor((events) => tags(events).includes('v1'));
    await until('recovered', async () => (await gauge(metrics, 'berth_notification_endpoint_failing')) === 0);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('maxattempts: an envelope the receiver refuses (4xx) that many times is set aside, kept in storage, counted, and retried once its marker is removed', async () => {
  let poisonRefused = 0;
  let healed = false;
  const receiver = new EventReceiver((body) => {
    if (!tagged('poison')(body) || healed) return true;
    poisonRefused += 1;
    return 400;
  });
  await receiver.start();
  const { registry, metrics, driver } = await notifying(receiver, { maxattempts: 3, threshold: 1, backoff: '10ms', maxbackoff: '10ms' });
  try {
    await pushImage(registry.r(), repoName('dead'), 'poison');
    await pushImage(registry.r(), repoName('dead'), 'after');
    await receiver.waitFor((events) => tags(events).includes('after'));
    assert.equal(poisonRefused, 3);
    assert.deepEqual(tags(receiver.events), ['after']);

    const markers: string[] = [];
    for await (const f of driver.walk('/berth/events/deadletter/receiver')) if (!f.isDir) markers.push(f.path);
    assert.equal(markers.length, 1);
    const marker = JSON.parse((await driver.getContent(markers[0])).toString('utf8')) as { status: number; attempts: number };
    assert.equal(marker.status, 400);
    assert.equal(marker.attempts, 3);
    const segment = (await driver.getContent(`/berth/events/segments/${markers[0].split('/').pop()}`)).toString('utf8');
    assert.match(segment, /"tag":"poison"/, 'the events are kept in storage');
    await until('counted', async () => (await gauge(metrics, 'berth_notification_events_deadlettered')) === 1);
    // The gauge is as of the dispatcher's last look at storage, which follows the receiver's answer.
    await until('nothing pending', async () => (await gauge(metrics, 'berth_notification_events_pending')) === 0);

    healed = true;
    await driver.delete(markers[0]);
    await receiver.waitFor((events) => tags(events).includes('poison'));
    await until('no longer counted', async () => (await gauge(metrics, 'berth_notification_events_deadlettered')) === 0);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('without maxattempts (the default), a refused envelope blocks its endpoint and is never set aside', async () => {
  const receiver = new EventReceiver((body) => (tagged('poison')(body) ? 400 : true));
  await receiver.start();
  const { registry, driver } = await notifying(receiver, { threshold: 1, backoff: '10ms', maxbackoff: '10ms' });
  try {
    await pushImage(registry.r(), repoName('blocked'), 'poison');
    await pushImage(registry.r(), repoName('blocked'), 'after');
    await until('refused often', () => receiver.refused >= 10);
    assert.deepEqual(tags(receiver.events), []);
    assert.equal((await driver.list('/berth/events').catch(() => [])).some((p) => p.endsWith('deadletter')), false);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});

test('maxattempts counts refusals only: a receiver that is down (5xx, no answer) never has events set aside', async () => {
  let unavailable = 8;
  const receiver = new EventReceiver(() => unavailable-- <= 0);
  await receiver.start();
  const { registry, driver } = await notifying(receiver, { maxattempts: 2, threshold: 1, backoff: '10ms', maxbackoff: '10ms' });
  try {
    await pushImage(registry.r(), repoName('down'), 'v1');
    await pushImage(registry.r(), repoName('down'), 'v2');
    await receiver.waitFor((events) => tags(events).includes('v2'));
    assert.deepEqual(tags(receiver.events), ['v1', 'v2']);
    assert.equal((await driver.list('/berth/events').catch(() => [])).some((p) => p.endsWith('deadletter')), false);
  } finally {
    await registry.close();
    await receiver.stop();
  }
});
