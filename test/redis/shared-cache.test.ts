import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { getRaw, holdingDriver, pushImage, pushManifest, recordingDriver, repoName, type TagList } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { capturingLogger } from '../faults/helpers';
import { startRedis, type RedisServer } from '../helpers/redis-server';
import { requireTools } from '../helpers/tools';

/** A driver that counts getContent calls by path. */
function countingDriver(inner: StorageDriver): { driver: StorageDriver; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const driver: StorageDriver = {
    ...recordingDriver(inner).driver,
    getContent: (p) => {
      reads.set(p, (reads.get(p) ?? 0) + 1);
      return inner.getContent(p);
    },
  };
  return { driver, reads };
}

const readyz = async (reg: TestRegistry) => (await reg.r().get('/readyz')).body as { status: string; redis?: string };

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

const redisState = (reg: TestRegistry, state: string) => until(`redis ${state}`, async () => (await readyz(reg)).redis === state);

const digestOf = async (reg: TestRegistry, name: string, ref: string) => {
  const res = await reg.r().head(`/v2/${name}/manifests/${ref}`).set('Accept', 'application/vnd.oci.image.manifest.v1+json');
  return res.status === 200 ? String(res.headers['docker-content-digest']) : res.status;
};
const tagsOf = async (reg: TestRegistry, name: string) => ((await reg.r().get(`/v2/${name}/tags/list`)).body as TagList).tags;

describe('shared cache (redis): replicas on one store and one Redis', { skip: requireTools(['redis-server']) }, () => {
  let redis: RedisServer;
  const started: TestRegistry[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(started.map((r) => r.close()));
    await redis.stop();
  });

  async function replica(driver: StorageDriver, addr = redis.addr, metrics?: Metrics, maxmanifestbytes?: number): Promise<TestRegistry> {
    const reg = await startRegistry({ driver, config: testConfig({ redis: { addr, ttl: '1s', maxmanifestbytes } }), deps: { metrics } });
    started.push(reg);
    return reg;
  }

  /** Replica a on `store`, b on `other` (the same store seen through a wrapper), both using Redis. */
  async function pairUp(store: StorageDriver, other: StorageDriver): Promise<[TestRegistry, TestRegistry]> {
    const [a, b] = [await replica(store), await replica(other)];
    await redisState(a, 'up');
    await redisState(b, 'up');
    return [a, b];
  }

  it('reads come from Redis, and tag moves and deletes through one replica are seen through the other at once', async () => {
    const store = createMemoryDriver();
    const counted = countingDriver(store);
    const [a, b] = await pairUp(store, counted.driver);
    const name = repoName('redis');
    const first = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
    assert.deepEqual(await tagsOf(b, name), ['v1']);
    const link = paths.tagCurrentLink(name, 'v1');
    const readsBefore = counted.reads.get(link) ?? 0;
    for (let i = 0; i < 5; i++) assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
    assert.equal(counted.reads.get(link) ?? 0, readsBefore, 'repeated GETs by tag do not read the tag link');

    const second = await pushImage(a.r(), name, 'v1');
    await pushImage(a.r(), name, 'v2');
    assert.equal(await digestOf(b, name, 'v1'), second.manifest.digest);
    assert.deepEqual(await tagsOf(b, name), ['v1', 'v2']);

    assert.equal((await b.r().head(`/v2/${name}/blobs/${second.layer.digest}`)).status, 200);
    assert.equal((await a.r().delete(`/v2/${name}/blobs/${second.layer.digest}`)).status, 202);
    assert.equal((await b.r().head(`/v2/${name}/blobs/${second.layer.digest}`)).status, 404);

    assert.equal(await digestOf(b, name, second.manifest.digest), second.manifest.digest);
    assert.equal((await a.r().delete(`/v2/${name}/manifests/${second.manifest.digest}`)).status, 202);
    assert.equal(await digestOf(b, name, second.manifest.digest), 404);
    assert.equal(await digestOf(b, name, 'v1'), 404);
    assert.deepEqual(await tagsOf(b, name), ['v2']);
  });

  it('a manifest body one replica read is served to another from Redis, unless it is over the size cap', async () => {
    const store = createMemoryDriver();
    const counted = countingDriver(store);
    const a = await replica(store);
    const b = await replica(store);
    const c = await replica(counted.driver);
    const small = await replica(countingDriver(store).driver, redis.addr, undefined, 10);
    for (const r of [a, b, c, small]) await redisState(r, 'up');
    const name = repoName('redis');
    const image = await pushImage(a.r(), name, 'v1');
    const data = paths.blobData(parseDigest(image.manifest.digest));
    assert.equal(await digestOf(b, name, 'v1'), image.manifest.digest);
    await sleep(100);
    const got = await getRaw(c.r(), `/v2/${name}/manifests/v1`).set('Accept', image.manifest.mediaType);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, image.manifest.data, 'the exact bytes');
    assert.equal(got.headers['content-type'], image.manifest.mediaType);
    assert.equal(counted.reads.get(data) ?? 0, 0, 'c did not read the body from storage');

    // A registry whose cap is 10 bytes neither stores nor is asked to store the next one in Redis.
    const other = await pushImage(a.r(), name, 'v2');
    assert.equal(await digestOf(small, name, 'v2'), other.manifest.digest);
    await sleep(100);
    assert.equal(await digestOf(c, name, 'v2'), other.manifest.digest);
    assert.equal(counted.reads.get(paths.blobData(parseDigest(other.manifest.digest))), 1, 'over the cap: read from storage');
  });

  it('a read that loaded the old tag before another replica moved it does not put it in Redis', async () => {
    const store = createMemoryDriver();
    const held = holdingDriver(store);
    const [a, b] = await pairUp(store, held.driver);
    const name = repoName('redis');
    const first = await pushImage(a.r(), name, 'v1');
    const hold = held.hold(paths.tagCurrentLink(name, 'v1'));
    const answered = b.r().head(`/v2/${name}/manifests/v1`).set('Accept', first.manifest.mediaType).then((res) => res);
    await hold.reached;
    const second = await pushImage(a.r(), name, 'v1');
    hold.release();
    assert.equal((await answered).headers['docker-content-digest'], first.manifest.digest);
    // Whatever b's fill did, Redis must not hold the old digest now.
    await sleep(100);
    assert.equal(await digestOf(a, name, 'v1'), second.manifest.digest);
    assert.equal(await digestOf(b, name, 'v1'), second.manifest.digest);
    assert.equal((await pushManifest(a.r(), name, 'v1', first.manifest)).status, 201);
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
  });

  it('a version that expired and came back is not taken for the one a reader noted before its load', async () => {
    // ttl 1s: a version key lives 2 s after the write that set it. A reader notes it just before it
    // expires, the key expires, a new write sets it again, and the reader's load (well within the
    // ttl) ends: its fill must be refused, as a counter restarting at 1 would not.
    const store = createMemoryDriver();
    const held = holdingDriver(store);
    const [a, b] = await pairUp(store, held.driver);
    const name = repoName('redis');
    const first = await pushImage(a.r(), name, 'v1');
    const version = `berth:tags:${name}:v1:v`;
    const pttl = async () => Number(/^:(-?\d+)/.exec(await redis.command(`PTTL ${version}`))?.[1]);
    assert.ok((await pttl()) > 0, 'the push gave the tag a version');
    await until('the version is about to expire', async () => (await pttl()) < 250);
    const hold = held.hold(paths.tagCurrentLink(name, 'v1'));
    const answered = b.r().head(`/v2/${name}/manifests/v1`).set('Accept', first.manifest.mediaType).then((res) => res);
    await hold.reached;
    await until('the version expired', async () => (await pttl()) === -2);
    const second = await pushImage(a.r(), name, 'v1');
    hold.release();
    assert.equal((await answered).headers['docker-content-digest'], first.manifest.digest);
    await sleep(100);
    assert.equal(await digestOf(b, name, 'v1'), second.manifest.digest);
  });

  it('an entry it cannot read (written by something else) is a miss, not an error', async () => {
    const reg = await replica(createMemoryDriver());
    await redisState(reg, 'up');
    const name = repoName('redis');
    const image = await pushImage(reg.r(), name, 'v1');
    const generation = (await redis.command('GET berth:generation')).startsWith('$-1') ? '' : (await redis.command('GET berth:generation')).split('\r\n')[1];
    for (const [key, value] of [
      [`berth:tags:${name}:v1`, 'not-a-digest'],
      [`berth:layers:${name}@${image.layer.digest}`, '{broken'],
      [`berth:revisions:${name}@${image.manifest.digest}`, 'x'],
      [`berth:tagLists:${name}`, '5'],
    ])
      assert.match(await redis.command(`SET ${key} ${generation}|${value}`), /^\+OK/);
    assert.equal(await digestOf(reg, name, 'v1'), image.manifest.digest);
    assert.equal((await reg.r().head(`/v2/${name}/blobs/${image.layer.digest}`)).status, 200);
    assert.deepEqual(await tagsOf(reg, name), ['v1']);
  });

  it('a write that cannot reach Redis is served stale by the others for at most redis.ttl', async () => {
    const store = createMemoryDriver();
    // The writer's Redis is not there: its invalidation is lost, as in a partition.
    const a = await replica(store, '/nonexistent/berth-redis.sock');
    const b = await replica(store);
    await redisState(b, 'up');
    await redisState(a, 'down');
    const name = repoName('redis');
    const first = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
    await sleep(100);
    const second = await pushImage(a.r(), name, 'v1');
    const moved = Date.now();
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest, 'the old entry stands in Redis');
    await until('the moved tag', async () => (await digestOf(b, name, 'v1')) === second.manifest.digest, 3000);
    assert.ok(Date.now() - moved <= 1000 + 300, `stale for ${Date.now() - moved} ms, more than the 1 s ttl`);
  });

  it('Redis killed and restarted: requests keep succeeding from storage, /readyz and metrics show it down, then up', async () => {
    const store = createMemoryDriver();
    const metrics = createMetrics({ defaultMetrics: false, redis: true });
    const a = await replica(store, redis.addr, metrics);
    const b = await replica(store);
    await redisState(a, 'up');
    const up = async () => (await metrics.registry.getSingleMetric('berth_redis_up')?.get())?.values[0]?.value;
    assert.equal(await up(), 1);
    const name = repoName('redis');
    const first = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(a, name, 'v1'), first.manifest.digest);

    await redis.kill();
    const t0 = Date.now();
    assert.equal(await digestOf(a, name, 'v1'), first.manifest.digest);
    const second = await pushImage(b.r(), name, 'v1');
    assert.equal(await digestOf(a, name, 'v1'), second.manifest.digest, 'no stale answer: Redis down means storage');
    assert.ok(Date.now() - t0 < 2000, 'requests do not wait for Redis');
    const ready = await readyz(a);
    assert.equal(ready.status, 'ready');
    assert.equal(ready.redis, 'down');
    assert.equal(await up(), 0);
    const errors = (await metrics.registry.getSingleMetric('berth_redis_errors_total')?.get())?.values[0]?.value ?? 0;
    assert.ok(errors >= 1);

    await redis.restart();
    await redisState(a, 'up');
    await redisState(b, 'up');
    assert.equal(await up(), 1);
    const third = await pushImage(b.r(), name, 'v1');
    assert.equal(await digestOf(a, name, 'v1'), third.manifest.digest);
    assert.equal(await digestOf(a, name, 'v1'), third.manifest.digest);
    const lookups = (await metrics.registry.getSingleMetric('berth_redis_lookups_total')?.get())?.values ?? [];
    assert.ok(lookups.some((v) => v.labels.table === 'tags' && v.labels.result === 'hit' && v.value >= 1), 'a hit after the restart');
  });

  it('a Redis that is not there at start: the registry starts and serves, logs it once, /readyz says so', async () => {
    const { logger, text } = capturingLogger();
    const reg = await startRegistry({ driver: createMemoryDriver(), config: testConfig({ redis: { addr: '/nonexistent/berth-redis.sock' } }), deps: { logger } });
    started.push(reg);
    await redisState(reg, 'down');
    await sleep(1500);
    const said = text().filter((l) => l.includes('redis: '));
    assert.equal(said.length, 1, said.join(''));
    assert.match(said[0], /redis: unreachable, reading storage until it answers/);
    const name = repoName('redis');
    const image = await pushImage(reg.r(), name, 'v1');
    assert.equal(await digestOf(reg, name, 'v1'), image.manifest.digest);
    assert.equal((await readyz(reg)).status, 'ready');
  });
});
