import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthProcess } from '../helpers/berth-process';
import { ACCEPT_ALL_MANIFESTS } from '../helpers/registry-client';
import { startRedis, type RedisServer } from '../helpers/redis-server';
import { requireTools } from '../helpers/tools';
import { imageManifest, pushMonolithic, putManifest, randomBlob, repoName } from '../replicas/oci-http';
import { debugUrl, onNewConnection, sample, startGroup, until, workersOf } from '../workers/group';

/** With redis, each worker has its own connection to it, and a write through one is read right by all. */
describe('http.workers = 2 with redis', { skip: requireTools(['redis-server']), timeout: 120_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  let berth: BerthProcess;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-redis-'));
    redis = await startRedis();
    // The long local ttl is not used with redis: a worker keeps no mutable fact of its own.
    berth = await startGroup(dir, 2, { REGISTRY_REDIS_ADDR: redis.addr, REGISTRY_STORAGE_CACHE_TTL: '1h' });
  });
  after(async () => {
    await berth?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const scrape = async () => (await fetch(`${debugUrl(berth)}/metrics`)).text();
  const everywhere = (p: string) => Promise.all(Array.from({ length: 12 }, () => onNewConnection(`${berth.url}${p}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } })));

  test('a tag moved through one worker is read right through both, from Redis', async () => {
    await until('redis up in both workers', async () => sample(await scrape(), 'berth_redis_up') === 1);
    const name = repoName('workers-redis');
    const config = randomBlob(100);
    const layers = [randomBlob(1000), randomBlob(1000)];
    for (const b of [config, ...layers]) await pushMonolithic(berth.url, name, b);
    const [first, second] = layers.map((l) => imageManifest(config, [l]));
    await putManifest(berth.url, name, 'latest', first);
    let answers = await everywhere(`/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([first.digest]));
    assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    await putManifest(berth.url, name, 'latest', second);
    answers = await everywhere(`/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([second.digest]), 'no worker serves the old digest');
    // The first round ran at once, each a miss that fills; this one finds the entry.
    answers = await everywhere(`/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([second.digest]));
    const text = await scrape();
    assert.ok(sample(text, 'berth_redis_lookups_total{table="tags",result="hit"}') >= 10, `the reads were Redis hits:\n${text.split('\n').filter((l) => l.includes('redis')).join('\n')}`);

    await redis.kill();
    answers = await everywhere(`/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([second.digest]));
    assert.equal(sample(await scrape(), 'berth_redis_up'), 0, 'down as soon as one worker saw it down');
    await redis.restart();
    await until('redis up again in both workers', async () => sample(await scrape(), 'berth_redis_up') === 1);
  });
});
