import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EMPTY_CONFIG, MT, descriptor, getRaw, ociManifest, randomBlob } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { createMetrics } from '../../src/metrics/metrics';
import { sendJson, startFake, type FakeServer } from './fake-upstream';

/*
 * An upstream that rate-limits (429 with Retry-After) or fails (500), which no real registry does on
 * demand: the mirror serves a tag it checked within `stale`, and otherwise passes the upstream's
 * Retry-After on with 429 or 503 — never a 500.
 */

/** A manifest with more layers than this registry's validation.manifests.maxdescriptors (2) admits. */
const bogus = ociManifest({ config: descriptor(EMPTY_CONFIG, MT.ociConfig), layers: [1, 2, 3].map(() => descriptor(randomBlob(8), MT.ociLayer)) });
const image = ociManifest({ config: descriptor(EMPTY_CONFIG, MT.ociConfig), layers: [descriptor(randomBlob(64), MT.ociLayer)] });
let mode: 'ok' | '429' | '500' = 'ok';
let dir = '';
let fake: FakeServer;
let berth: TestRegistry;
const metrics = createMetrics({ defaultMetrics: false });

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-429-'));
  fake = await startFake((req, res) => {
    if (req.url === '/v2/') return sendJson(res, 200, {});
    if (mode === '429') return sendJson(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }, { 'retry-after': '7' });
    if (mode === '500') return sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: 'boom' }] });
    if (req.url === '/v2/library/app/manifests/bogus' || req.url === `/v2/library/app/manifests/${bogus.digest}`) {
      res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': bogus.size, 'docker-content-digest': bogus.digest });
      return res.end(req.method === 'HEAD' ? undefined : bogus.data);
    }
    if (!/^\/v2\/library\/app\/manifests\/(v1|sha256:[0-9a-f]{64})$/.test(req.url ?? '')) return sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': image.size, 'docker-content-digest': image.digest });
    res.end(req.method === 'HEAD' ? undefined : image.data);
  });
  berth = await startRegistry({
    config: testConfig({ mirrors: [{ prefix: 'rl.test', url: fake.url, tagttl: '0s', stale: '1h' }], mirror: { spooldirectory: path.join(dir, 'spool') }, validation: { manifests: { maxdescriptors: 2 } } }),
    deps: { metrics },
  });
});

after(async () => {
  await berth?.close();
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const get = (ref: string) => getRaw(berth.r(), `/v2/rl.test/library/app/manifests/${ref}`).set('Accept', MT.ociManifest);

describe('mirror: an upstream that rate-limits or fails', () => {
  test('a tag checked within stale is served from the cache on 429 and 500; what is not cached gets 429 or 503 with Retry-After', async () => {
    mode = 'ok';
    assert.deepEqual((await get('v1').expect(200)).body, image.data);
    for (const m of ['429', '500'] as const) {
      mode = m;
      assert.deepEqual((await get('v1').expect(200)).body, image.data, `stale on ${m}`);
    }
    const stale = (await metrics.registry.getSingleMetricAsString('berth_mirror_requests_total')).match(/result="stale"[^\n]* (\d+)/);
    assert.equal(stale?.[1], '2');
    mode = '429';
    const limited = await get('other').expect(429).expect('Retry-After', '7');
    assert.match(String(limited.body), /TOOMANYREQUESTS/);
    mode = '500';
    await get('other').expect(503).expect('Retry-After', '10');
    await getRaw(berth.r(), `/v2/rl.test/library/app/blobs/${randomBlob(8).digest}`).expect(503);
  });

  test("a manifest from the upstream that this registry cannot store is 502 UNAVAILABLE, not the client's 400", async () => {
    mode = 'ok';
    const res = await get('bogus').expect(502);
    assert.match(String(res.body), /UNAVAILABLE.*maxdescriptors/);
  });
});
