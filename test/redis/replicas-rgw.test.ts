import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startRedis, type RedisServer } from '../helpers/redis-server';
import { requireTools } from '../helpers/tools';
import { describeOnStores, loggedErrors, withClusterLogs, type Cluster } from '../replicas/cluster';
import { getManifest, imageManifest, listTags, pushMonolithic, putManifest, randomBlob, repoName, type Manifest } from '../replicas/oci-http';
import { s3Store } from '../replicas/stores';

/** Redis entries expire after this: the bound on staleness after a write that could not reach it. */
const TTL_MS = 2000;

const readyz = async (base: string) => (await (await fetch(`${base}/readyz`)).json()) as { status: string; redis?: string };

async function redisEverywhere(cluster: Cluster, state: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (const r of cluster.replicas)
    while ((await readyz(r.url)).redis !== state) {
      if (Date.now() > deadline) throw new Error(`redis not ${state} on ${r.url}: ${JSON.stringify(await readyz(r.url))}`);
      await sleep(100);
    }
}

/** Every replica answers `ref` with `digest` (or 404 when null). */
async function servedEverywhere(cluster: Cluster, name: string, ref: string, digest: string | null, what: string): Promise<void> {
  for (const [i, r] of cluster.replicas.entries()) {
    const got = await getManifest(r.url, name, ref);
    if (digest === null) assert.equal(got.status, 404, `${what}: replica ${i} still serves ${name}:${ref}`);
    else assert.equal(got.digest, digest, `${what}: replica ${i} serves ${got.status} ${got.digest}`);
  }
}

async function images(base: string, name: string, count: number): Promise<Manifest[]> {
  const config = randomBlob(300);
  await pushMonolithic(base, name, config);
  const out: Manifest[] = [];
  for (let i = 0; i < count; i++) {
    const layer = randomBlob(1000);
    await pushMonolithic(base, name, layer);
    out.push(imageManifest(config, [layer]));
  }
  return out;
}

/**
 * Replicas on Ceph RGW sharing one Redis (redis-server on a unix socket): what one replica writes
 * every other reads right at once, with Redis up, down (SIGKILL) and back (restarted, empty).
 */
describe('replicas on RGW sharing one Redis', { skip: requireTools(['redis-server']), timeout: 600_000 }, () => {
  let redis: RedisServer | undefined;
  const env: Record<string, string> = { REGISTRY_REDIS_TTL: `${TTL_MS}ms` };
  before(async () => {
    redis = await startRedis();
    env.REGISTRY_REDIS_ADDR = redis.addr;
  });
  after(async () => {
    await redis?.stop();
  });

  for (const replicas of [2, 3])
    describeOnStores(`${replicas} replicas`, { timeout: 300_000, kinds: [s3Store(false)], replicas, env }, (cluster) => {
      test('tags moved and manifests deleted through one replica are read right through the others', () =>
        withClusterLogs(cluster(), async () => {
          const c = cluster();
          await redisEverywhere(c, 'up');
          const name = repoName('redis');
          const [one, two, three] = await images(c.proxy.url, name, 3);
          for (const [i, m] of [one, two, three, one].entries()) {
            const writer = c.replicas[i % replicas].url;
            await putManifest(writer, name, 'latest', m);
            await servedEverywhere(c, name, 'latest', m.digest, `move ${i}`);
            // Twice: the second read is a Redis hit, and must be as current.
            await servedEverywhere(c, name, 'latest', m.digest, `move ${i}, again`);
          }
          await putManifest(c.replicas[1].url, name, 'other', two);
          await servedEverywhere(c, name, two.digest, two.digest, 'by digest');
          const del = await fetch(`${c.replicas[0].url}/v2/${name}/manifests/${two.digest}`, { method: 'DELETE' });
          assert.equal(del.status, 202);
          await servedEverywhere(c, name, two.digest, null, 'deleted by digest');
          await servedEverywhere(c, name, 'other', null, 'its tag');
          for (const r of c.replicas) assert.deepEqual(await listTags(r.url, name), ['latest']);
          assert.deepEqual(loggedErrors(c), []);
        }));

      if (replicas === 3)
        test('Redis killed, then restarted: every answer stays right, /readyz shows it down, then up', () =>
          withClusterLogs(cluster(), async () => {
            const c = cluster();
            const name = repoName('redis-kill');
            const ms = await images(c.proxy.url, name, 3);
            await putManifest(c.proxy.url, name, 'latest', ms[0]);
            await servedEverywhere(c, name, 'latest', ms[0].digest, 'before the kill');
            await redis!.kill();
            for (const [i, m] of ms.entries()) {
              await putManifest(c.replicas[i].url, name, 'latest', m);
              await servedEverywhere(c, name, 'latest', m.digest, `Redis down, move ${i}`);
            }
            for (const r of c.replicas) {
              const { status, redis: state } = await readyz(r.url);
              assert.deepEqual({ status, redis: state }, { status: 'ready', redis: 'down' });
            }
            await redis!.restart();
            await redisEverywhere(c, 'up');
            for (const [i, m] of [ms[1], ms[2]].entries()) {
              await putManifest(c.replicas[i].url, name, 'latest', m);
              await servedEverywhere(c, name, 'latest', m.digest, `Redis back, move ${i}`);
              await servedEverywhere(c, name, 'latest', m.digest, `Redis back, move ${i}, again`);
            }
            for (const r of c.replicas) {
              const lines = r
                .logs()
                .split('\n')
                .filter((l) => l.includes('"msg":"redis: '));
              assert.equal(lines.filter((l) => l.includes('redis: down')).length, 1, `the outage is logged once:\n${lines.join('\n')}`);
              assert.equal(lines.filter((l) => l.includes('redis: back up')).length, 1, `and the recovery once:\n${lines.join('\n')}`);
            }
          }));
    });
});
