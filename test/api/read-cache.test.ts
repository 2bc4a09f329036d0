import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { paths } from '../../src/oci/paths';
import { holdingDriver, pushImage, pushManifest, repoName, type TagList } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

/**
 * storage.cache.ttl is the bound on how long a replica serves what another replica sharing its
 * storage has changed since; writes through the replica itself are seen at once.
 */
describe('read cache across replicas sharing storage', () => {
  const started: TestRegistry[] = [];
  after(() => Promise.all(started.map((r) => r.close())));

  async function pair(ttl: string | undefined): Promise<[TestRegistry, TestRegistry]> {
    const driver: StorageDriver = createMemoryDriver();
    const config = testConfig(ttl === undefined ? {} : { storage: { cache: { ttl } } });
    const a = await startRegistry({ driver, config });
    const b = await startRegistry({ driver, config });
    started.push(a, b);
    return [a, b];
  }

  const digestOf = async (reg: TestRegistry, name: string, ref: string) => {
    const res = await reg.r().head(`/v2/${name}/manifests/${ref}`).set('Accept', 'application/vnd.oci.image.manifest.v1+json');
    return res.status === 200 ? String(res.headers['docker-content-digest']) : res.status;
  };
  const tagsOf = async (reg: TestRegistry, name: string) => ((await reg.r().get(`/v2/${name}/tags/list`)).body as TagList).tags;

  it('by default, replicas sharing storage (a secret is set) see each other’s tag moves and deletes at once', async () => {
    const [a, b] = await pair(undefined);
    const name = repoName('cache');
    const first = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
    const second = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), second.manifest.digest);
    assert.equal((await a.r().delete(`/v2/${name}/manifests/v1`)).status, 202);
    assert.equal(await digestOf(b, name, 'v1'), 404);
    assert.deepEqual(await tagsOf(b, name), []);
  });

  it('with a long ttl, a replica keeps serving what it read, while its own writes show at once', async () => {
    const [a, b] = await pair('1h');
    const name = repoName('cache');
    const first = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
    assert.deepEqual(await tagsOf(b, name), ['v1']);

    const second = await pushImage(a.r(), name, 'v1');
    await pushImage(a.r(), name, 'v2');
    assert.equal(await digestOf(a, name, 'v1'), second.manifest.digest, 'the writer sees its own move');
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest, 'the other replica serves its cached answer');
    assert.deepEqual(await tagsOf(b, name), ['v1'], 'and its cached tag list');

    const third = await pushImage(b.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), third.manifest.digest, 'a write through b replaces b’s cached answer');
    assert.deepEqual(await tagsOf(b, name), ['v1', 'v2']);

    assert.equal((await b.r().delete(`/v2/${name}/manifests/${third.manifest.digest}`)).status, 202);
    assert.equal(await digestOf(b, name, 'v1'), 404);
    assert.equal(await digestOf(b, name, third.manifest.digest), 404);
    assert.equal((await b.r().head(`/v2/${name}/blobs/${third.layer.digest}`)).status, 200);
    assert.equal((await b.r().delete(`/v2/${name}/blobs/${third.layer.digest}`)).status, 202);
    assert.equal((await b.r().head(`/v2/${name}/blobs/${third.layer.digest}`)).status, 404);
  });

  it('with a short ttl, what another replica changed is served once the ttl has passed', async () => {
    const [a, b] = await pair('150ms');
    const name = repoName('cache');
    const first = await pushImage(a.r(), name, 'v1');
    assert.equal(await digestOf(b, name, 'v1'), first.manifest.digest);
    assert.equal((await b.r().head(`/v2/${name}/blobs/${first.layer.digest}`)).status, 200);
    assert.deepEqual(await tagsOf(b, name), ['v1']);

    const second = await pushImage(a.r(), name, 'v1');
    await pushImage(a.r(), name, 'v2');
    assert.equal((await a.r().delete(`/v2/${name}/blobs/${first.layer.digest}`)).status, 202);
    await sleep(400);
    assert.equal(await digestOf(b, name, 'v1'), second.manifest.digest);
    assert.deepEqual(await tagsOf(b, name), ['v1', 'v2']);
    assert.equal((await b.r().head(`/v2/${name}/blobs/${first.layer.digest}`)).status, 404);

    assert.equal((await a.r().delete(`/v2/${name}/manifests/${second.manifest.digest}`)).status, 202);
    await sleep(400);
    assert.equal(await digestOf(b, name, 'v1'), 404);
    assert.equal(await digestOf(b, name, second.manifest.digest), 404);
  });
});

describe('read cache and a read that raced a write', () => {
  it('a GET by tag that read the link before the tag moved does not leave the old digest cached', async () => {
    const { driver, hold } = holdingDriver(createMemoryDriver());
    const reg = await startRegistry({ driver, config: testConfig({ storage: { cache: { ttl: '1h' } } }) });
    after(() => reg.close());
    const name = repoName('race');
    const first = await pushImage(reg.r(), name);
    // Another writer on the same store tagged it: this process has not cached the tag.
    const other = await startRegistry({ driver, config: testConfig() });
    after(() => other.close());
    assert.equal((await pushManifest(other.r(), name, 'v1', first.manifest)).status, 201);

    const held = hold(paths.tagCurrentLink(name, 'v1'));
    const answered = reg.r().head(`/v2/${name}/manifests/v1`).set('Accept', first.manifest.mediaType).then((res) => res);
    await held.reached;
    const second = await pushImage(reg.r(), name, 'v1');
    held.release();
    assert.equal((await answered).headers['docker-content-digest'], first.manifest.digest, 'the racing GET answers what it read');
    const next = await reg.r().head(`/v2/${name}/manifests/v1`).set('Accept', second.manifest.mediaType);
    assert.equal(next.headers['docker-content-digest'], second.manifest.digest, 'the next GET sees the move');
  });
});
