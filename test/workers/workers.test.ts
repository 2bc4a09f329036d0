import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthProcess } from '../helpers/berth-process';
import { ACCEPT_ALL_MANIFESTS } from '../helpers/registry-client';
import { at, finishUpload, imageManifest, pushMonolithic, putManifest, randomBlob, repoName } from '../replicas/oci-http';
import { debugUrl, logLines, onNewConnection, sample, startGroup, workerOf, workersOf, type Answer } from './group';

const CONNECTIONS = 12;

/** GETs `path` on CONNECTIONS new connections at once: round-robin spreads them over every worker. */
function everywhere(berth: BerthProcess, path: string): Promise<Answer[]> {
  return Promise.all(Array.from({ length: CONNECTIONS }, () => onNewConnection(`${berth.url}${path}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS } })));
}

describe('http.workers = 2', { timeout: 120_000 }, () => {
  let dir: string;
  let berth: BerthProcess;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-'));
    // A long ttl: a cache entry a write did not reach would be served for the whole test.
    berth = await startGroup(dir, 2, { REGISTRY_STORAGE_CACHE_TTL: '1h' });
  });
  after(async () => {
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('serves the API from both workers, each access log line naming its worker', async () => {
    const answers = await everywhere(berth, '/v2/');
    assert.deepEqual(answers.map((a) => a.status), Array<number>(CONNECTIONS).fill(200));
    assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    const listening = logLines(berth).filter((l) => l.msg === 'listening');
    assert.equal(listening.length, 1, 'the group says listening once');
    assert.equal(listening[0].worker, 'primary');
    assert.equal(listening[0].workers, 2);
  });

  test('a tag moved or deleted through one connection is seen at once through every other', async () => {
    const name = repoName('workers');
    const config = randomBlob(100);
    const layers = [randomBlob(1000), randomBlob(1000)];
    for (const b of [config, ...layers]) await pushMonolithic(berth.url, name, b);
    const first = imageManifest(config, [layers[0]]);
    const second = imageManifest(config, [layers[1]]);
    await putManifest(berth.url, name, 'latest', first);

    // Every worker caches latest → first.
    let answers = await everywhere(berth, `/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([first.digest]));
    assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);

    await putManifest(berth.url, name, 'latest', second);
    answers = await everywhere(berth, `/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([second.digest]), 'no worker serves the old digest');
    assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    const tags = await everywhere(berth, `/v2/${name}/tags/list`);

    const deleted = await onNewConnection(`${berth.url}/v2/${name}/manifests/latest`, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    answers = await everywhere(berth, `/v2/${name}/manifests/latest`);
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([404]), 'no worker serves the deleted tag');
    assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    // Tag lists were cached too.
    assert.deepEqual(new Set(tags.map((a) => a.body.toString())), new Set([JSON.stringify({ name, tags: ['latest'] })]));
    const after = await everywhere(berth, `/v2/${name}/tags/list`);
    assert.deepEqual(new Set(after.map((a) => (JSON.parse(a.body.toString()) as { tags: string[] }).tags.length)), new Set([0]));
  });

  test('a manifest or blob deleted through one connection is gone at once through every other', async () => {
    const name = repoName('deletes');
    const config = randomBlob(100);
    const layer = randomBlob(1000);
    for (const b of [config, layer]) await pushMonolithic(berth.url, name, b);
    const manifest = imageManifest(config, [layer]);
    await putManifest(berth.url, name, 'v1', manifest);

    const byDigest = `/v2/${name}/manifests/${manifest.digest}`;
    const blob = `/v2/${name}/blobs/${layer.digest}`;
    // Every worker caches that the repository links the manifest and the layer.
    for (const p of [byDigest, blob]) {
      const answers = await everywhere(berth, p);
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
      assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    }
    for (const p of [byDigest, blob]) {
      assert.equal((await onNewConnection(`${berth.url}${p}`, { method: 'DELETE' })).status, 202);
      const answers = await everywhere(berth, p);
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([404]), `${p} is gone from every worker`);
      assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    }
    // The tag went with its manifest.
    const tag = await everywhere(berth, `/v2/${name}/manifests/v1`);
    assert.deepEqual(new Set(tag.map((a) => a.status)), new Set([404]));
  });

  test('without http.secret, an upload started through one worker continues through the other', async () => {
    const name = repoName('secret');
    const blob = randomBlob(300_000);
    const started = await onNewConnection(`${berth.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    const first = await workerOf(berth, started.headers['x-request-id'] as string);
    // Round-robin: the next connection goes to the other worker, or the one after it.
    let patched: Answer | undefined;
    for (let i = 0; i < 4 && patched === undefined; i++) {
      const probe = await onNewConnection(`${berth.url}/v2/`);
      if ((await workerOf(berth, probe.headers['x-request-id'] as string)) !== first) continue;
      patched = await onNewConnection(at(berth.url, started.headers.location as string), { method: 'PATCH', body: blob.data, headers: { 'Content-Type': 'application/octet-stream' } });
    }
    assert.ok(patched, 'a connection reached the other worker');
    assert.equal(patched.status, 202, patched.body.toString());
    assert.notEqual(await workerOf(berth, patched.headers['x-request-id'] as string), first);
    assert.equal(await finishUpload(berth.url, patched.headers.location as string, blob.digest), blob.digest);
  });

  test('the debug listener sums the metrics of every worker', async () => {
    const series = 'berth_http_requests_total{route="base",method="GET",status="200"}';
    const scrape = async () => (await onNewConnection(`${debugUrl(berth)}/metrics`)).body.toString();
    const before = sample(await scrape(), series);
    const answers = await everywhere(berth, '/v2/');
    assert.deepEqual([...(await workersOf(berth, answers))].sort(), [0, 1]);
    assert.equal(sample(await scrape(), series) - before, CONNECTIONS);
  });
});
