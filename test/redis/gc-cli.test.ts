import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { pushImage, repoName } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { age } from '../gc/age';
import { runBerth, type BerthRun } from '../helpers/berth-process';
import { startRedis, type RedisServer } from '../helpers/redis-server';
import { requireTools } from '../helpers/tools';
import { until } from '../workers/group';

interface Report {
  dryRun: boolean;
  manifests: string[];
}

/**
 * An offline `berth gc` deletes behind the replicas' backs: with redis configured it must drop what
 * they cached in Redis, as the scheduled collector does, or say loudly that it could not.
 */
describe('berth gc with redis configured', { skip: requireTools(['redis-server']), timeout: 120_000 }, () => {
  let redis: RedisServer;
  let dir: string;
  let root: string;
  let replica: TestRegistry;
  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(path.join(tmpdir(), 'berth-redis-gc-'));
    root = path.join(dir, 'store');
    // A long ttl: an entry the collection leaves in Redis would be served for an hour.
    replica = await startRegistry({ driver: createFilesystemDriver({ rootDirectory: root }), config: testConfig({ redis: { addr: redis.addr, ttl: '1h' } }) });
    await until('redis up', async () => ((await replica.r().get('/readyz')).body as { redis?: string }).redis === 'up');
  });
  after(async () => {
    await replica?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const gc = (redisAddr: string, ...args: string[]): Promise<BerthRun> =>
    runBerth(['gc', '--json', '--delete-untagged', '--grace', '0s', ...args], {
      cwd: dir,
      env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_REDIS_ADDR: redisAddr },
      timeoutMs: 60_000,
    });
  const head = async (name: string, digest: string) => (await replica.r().head(`/v2/${name}/manifests/${digest}`).set('Accept', 'application/vnd.oci.image.manifest.v1+json')).status;

  /** A manifest that a replica has cached in Redis and that lost its tag (the next gc deletes it). */
  async function untaggedAndCached(): Promise<{ name: string; digest: string }> {
    const name = repoName('redis-gc');
    const first = await pushImage(replica.r(), name, 'v1');
    await pushImage(replica.r(), name, 'v1');
    assert.equal(await head(name, first.manifest.digest), 200);
    await until('the replica filled Redis', async () => (await redis.command(`EXISTS berth:revisions:${name}@${first.manifest.digest}`)).startsWith(':1'));
    await age(root);
    return { name, digest: first.manifest.digest };
  }

  it('what it deleted is no longer served from Redis by a running replica', async () => {
    const { name, digest } = await untaggedAndCached();
    const run = await gc(redis.addr);
    assert.equal(run.code, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as Report).manifests.includes(`${name}@${digest}`), run.stdout);
    assert.equal(await head(name, digest), 404, 'the replica serves a manifest the collection deleted');
    assert.equal((await replica.r().head(`/v2/${name}/manifests/v1`).set('Accept', 'application/vnd.oci.image.manifest.v1+json')).status, 200);
  });

  it('Redis unreachable: it reports what it deleted, exits 1 and says what the operator must do', async () => {
    const { name, digest } = await untaggedAndCached();
    const nowhere = path.join(dir, 'no-redis.sock');
    const dry = await gc(nowhere, '--dry-run');
    assert.equal(dry.code, 0, `a dry run deletes nothing, so it has nothing to tell Redis: ${dry.stderr}`);
    const run = await gc(nowhere);
    assert.equal(run.code, 1, run.stderr);
    assert.ok((JSON.parse(run.stdout) as Report).manifests.includes(`${name}@${digest}`), run.stdout);
    assert.match(run.stderr, /could not invalidate the shared cache/);
    assert.match(run.stderr, /INCR berth:generation/);
    assert.match(run.stderr, /redis\.ttl/);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    const again = await gc(nowhere);
    assert.equal(again.code, 0, `nothing left to delete, nothing to tell: ${again.stderr}`);
  });

  it('berth check --repair drops what replicas cached in Redis once it has repaired something', async () => {
    const name = repoName('redis-check');
    const { manifest } = await pushImage(replica.r(), name, 'v1');
    const byTag = async () => (await replica.r().head(`/v2/${name}/manifests/v1`).set('Accept', 'application/vnd.oci.image.manifest.v1+json')).status;
    assert.equal(await byTag(), 200);
    await until('the replica filled Redis', async () => (await redis.command(`EXISTS berth:tags:${name}:v1`)).startsWith(':1'));
    // Damage a repair fixes: the tag names a manifest the repository no longer holds, which
    // --repair answers by removing the tag.
    await rm(path.join(root, paths.revisionDir(name, parseDigest(manifest.digest))), { recursive: true });
    await age(root);
    const run = await runBerth(['check', '--repair'], { cwd: dir, env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_REDIS_ADDR: redis.addr }, timeoutMs: 60_000 });
    assert.match(run.stdout, /tag-missing-revision.*\[repaired\]/, run.stdout);
    assert.equal(await byTag(), 404, 'the replica resolves a tag the repair removed');
  });
});

