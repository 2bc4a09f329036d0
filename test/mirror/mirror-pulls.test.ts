import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { MT, digestOf, getRaw, pushBlob, pushImage, randomBlob, unknownDigest, type Content } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { createMemoryDriver } from '../../storage-drivers';
import { seedUpstream, type Seeded } from './helpers';
import { startGate, type UpstreamGate } from './upstream-gate';

/*
 * The pull-through mirror end to end through Berth's HTTP API, against CNCF Distribution 2.8 as the
 * upstream, reached through a gate that can stop it or cut a blob mid-body.
 */

const PREFIX = 'up.test';
const REPO = 'library/app';
const MIRRORED = `${PREFIX}/${REPO}`;
const TAG_TTL_MS = 1000;
const ACCEPT = [MT.ociManifest, MT.ociIndex, MT.dockerList, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

let skipReason: string | undefined;
let work = '';
let dist: DistributionProcess | undefined;
let gate: UpstreamGate;
let berth: TestRegistry;
let metrics: Metrics;
let seed: Seeded;
let big: Content;
const upstream = () => request.agent(dist!.url);

before(async () => {
  skipReason = await distributionSkipReason();
  if (skipReason) return;
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-pulls-'));
  dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
  seed = await seedUpstream(upstream(), REPO);
  big = randomBlob(4 * 1024 * 1024);
  await pushBlob(upstream(), 'library/big', big);
  gate = await startGate(dist.url);
  metrics = createMetrics({ defaultMetrics: false });
  berth = await startRegistry({
    config: testConfig({
      mirrors: [{ prefix: PREFIX, url: gate.url, tagttl: `${TAG_TTL_MS}ms`, stale: '1h', namespaces: [PREFIX, 'registry.up.test:5000'] }],
      mirror: { spooldirectory: path.join(work, 'spool') },
      storage: { cache: { ttl: '1h' } },
    }),
    deps: { metrics },
  });
});

after(async () => {
  await berth?.close();
  await gate?.close();
  await dist?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const manifest = (name: string, ref: string) => getRaw(berth.r(), `/v2/${name}/manifests/${ref}`).set('Accept', ACCEPT);
const blob = (name: string, digest: string) => getRaw(berth.r(), `/v2/${name}/blobs/${digest}`);
const asked = (method: string, fragment: string) => gate.requests.filter((r) => r.method === method && r.url.includes(fragment)).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const values = (m?.values ?? []) as Array<{ value: number; labels: Record<string, string | number> }>;
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((sum, v) => sum + v.value, 0);
}

/** A GET through raw node http: what a client sees when the connection is cut mid-body. */
function rawGet(url: string): Promise<{ status: number; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, bytes, complete: false }));
        res.on('aborted', () => undefined);
      })
      .on('error', reject);
  });
}

describe('pull-through mirror against Distribution 2.8', () => {
  test('a pull by tag through the prefix: manifest and blobs with the right bytes and digests, then served from the cache', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { image } = seed;
    const m = await manifest(MIRRORED, 'v1').expect(200);
    assert.deepEqual(m.body, image.manifest.data);
    assert.equal(m.headers['docker-content-digest'], image.manifest.digest);
    assert.equal(m.headers['content-type'], MT.ociManifest);
    for (const c of [image.config, image.layer]) {
      const b = await blob(MIRRORED, c.digest).expect(200);
      assert.equal(digestOf(b.body as Buffer), c.digest);
      assert.equal(b.headers['docker-content-digest'], c.digest);
    }
    const before = gate.requests.length;
    assert.deepEqual((await manifest(MIRRORED, image.manifest.digest).expect(200)).body, image.manifest.data);
    assert.deepEqual((await blob(MIRRORED, image.layer.digest).expect(200)).body, image.layer.data);
    assert.equal(gate.requests.length, before, 'a cached manifest by digest and a cached blob need no upstream request');
    assert.ok((await metric('berth_mirror_requests_total', { kind: 'blob', result: 'miss' })) >= 2);
    assert.ok((await metric('berth_mirror_requests_total', { kind: 'blob', result: 'hit' })) >= 1);
    assert.ok((await metric('berth_mirror_upstream_bytes_total')) >= image.layer.size + image.config.size);
    assert.ok((await metric('berth_mirror_served_bytes_total', { mirror: PREFIX })) >= 2 * image.layer.size + image.config.size);
  });

  test("an index by tag; its children only when asked by digest; a HEAD of an uncached blob downloads nothing", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { index } = seed;
    const child = (JSON.parse(index.data.toString('utf8')) as { manifests: Array<{ digest: string }> }).manifests[0].digest;
    assert.deepEqual((await manifest(MIRRORED, 'multi').expect(200)).body, index.data);
    assert.equal(asked('GET', child), 0, 'children are not fetched eagerly');
    const c = await manifest(MIRRORED, child).expect(200);
    assert.equal(c.headers['docker-content-digest'], child);
    const layer = (JSON.parse((c.body as Buffer).toString('utf8')) as { layers: Array<{ digest: string; size: number }> }).layers[0];
    const head = await berth.r().head(`/v2/${MIRRORED}/blobs/${layer.digest}`).expect(200);
    assert.equal(Number(head.headers['content-length']), layer.size);
    assert.equal(asked('GET', layer.digest), 0, 'a HEAD does not fetch the blob');
    await assert.rejects(berth.app.registry.blobs.stat(MIRRORED, { algorithm: 'sha256', hex: layer.digest.slice(7), value: layer.digest } as never));
  });

  test('what the upstream lacks is a 404, with the OCI code', async (t) => {
    if (skipReason) return t.skip(skipReason);
    for (const ref of ['no-such-tag', unknownDigest()]) {
      assert.match(String((await manifest(MIRRORED, ref).expect(404)).body), /MANIFEST_UNKNOWN/);
      assert.equal(asked(ref.startsWith('sha256:') ? 'GET' : 'HEAD', `/manifests/${ref}`), 1, 'the upstream was asked');
    }
    await blob(MIRRORED, unknownDigest()).expect(404);
    await berth.r().head(`/v2/${MIRRORED}/blobs/${unknownDigest()}`).expect(404);
  });

  test('a tag moved upstream is seen once tagttl has passed, not before; one HEAD per ttl', async (t) => {
    if (skipReason) return t.skip(skipReason);
    await sleep(TAG_TTL_MS + 50);
    const old = (await manifest(MIRRORED, 'v1').expect(200)).headers['docker-content-digest'];
    const heads = asked('HEAD', '/manifests/v1');
    const moved = await pushImage(upstream(), REPO, 'v1');
    await Promise.all([1, 2, 3].map(() => manifest(MIRRORED, 'v1').expect(200).expect('Docker-Content-Digest', old)));
    assert.equal(asked('HEAD', '/manifests/v1'), heads, 'within tagttl the upstream is not asked');
    await sleep(TAG_TTL_MS + 50);
    const now = await Promise.all([1, 2, 3].map(() => manifest(MIRRORED, 'v1').expect(200)));
    for (const r of now) assert.deepEqual(r.body, moved.manifest.data);
    assert.equal(asked('HEAD', '/manifests/v1'), heads + 1, 'concurrent pulls of one tag share one HEAD');
    assert.deepEqual((await blob(MIRRORED, moved.layer.digest).expect(200)).body, moved.layer.data);
    seed.image = moved;
  });

  test('upstream stopped: cached content by digest, and tags within stale, are still served; the rest is 503 with Retry-After', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { image, index } = seed;
    gate.target = undefined;
    try {
      await sleep(TAG_TTL_MS + 50);
      const stale = await metric('berth_mirror_requests_total', { kind: 'manifest', result: 'stale' });
      assert.deepEqual((await manifest(MIRRORED, 'v1').expect(200)).body, image.manifest.data);
      assert.deepEqual((await manifest(MIRRORED, index.digest).expect(200)).body, index.data);
      assert.deepEqual((await blob(MIRRORED, image.layer.digest).expect(200)).body, image.layer.data);
      assert.equal(await metric('berth_mirror_requests_total', { kind: 'manifest', result: 'stale' }), stale + 1);
      assert.ok((await metric('berth_mirror_upstream_errors_total', { mirror: PREFIX, kind: 'unavailable' })) >= 1);
      const never = await manifest(MIRRORED, 'list').expect(503);
      assert.match(String(never.body), /UNAVAILABLE/);
      assert.ok(Number(never.headers['retry-after']) > 0);
      await blob(MIRRORED, unknownDigest()).expect(503);
    } finally {
      gate.target = dist!.url;
    }
  });

  test('upstream dropped mid-blob: the client sees a cut response, nothing is cached, the next pull gets every byte', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const name = `${PREFIX}/library/big`;
    gate.cutBlobAfter = 1024 * 1024;
    try {
      const cut = await rawGet(`${berth.url}/v2/${name}/blobs/${big.digest}`);
      assert.equal(cut.status, 200);
      assert.ok(!cut.complete && cut.bytes < big.size, `the client got ${cut.bytes} of ${big.size} bytes and complete=${cut.complete}`);
    } finally {
      gate.cutBlobAfter = undefined;
    }
    await berth.r().head(`/v2/${name}/blobs/${big.digest}`).expect(200);
    assert.equal((await metric('berth_mirror_blob_fetches_total', { result: 'failed' })) >= 1, true);
    const whole = await blob(name, big.digest).expect(200);
    assert.equal(digestOf(whole.body as Buffer), big.digest);
  });

  test('concurrent pulls of one cold blob: one upstream GET, every client gets every byte', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const cold = randomBlob(2 * 1024 * 1024);
    await pushBlob(upstream(), 'library/cold', cold);
    const pulls = await Promise.all(Array.from({ length: 8 }, () => blob(`${PREFIX}/library/cold`, cold.digest).expect(200)));
    for (const p of pulls) assert.equal(digestOf(p.body as Buffer), cold.digest);
    assert.equal(asked('GET', `/library/cold/blobs/${cold.digest}`), 1);
  });

    test('pushes and deletes into a mirrored repository are refused with 405 UNSUPPORTED; a local name stays pushable', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const start = await berth.r().post(`/v2/${MIRRORED}/blobs/uploads/`).expect(405);
    assert.match(start.text, /UNSUPPORTED/);
    await berth.r().put(`/v2/${MIRRORED}/manifests/v9`).set('Content-Type', MT.ociManifest).send('{}').expect(405);
    await berth.r().delete(`/v2/${MIRRORED}/manifests/${seed.image.manifest.digest}`).expect(405);
    await berth.r().post(`/v2/${REPO}/blobs/uploads/?ns=${PREFIX}`).expect(405);
    await pushImage(berth.r(), 'team/local', 'v1');
    await manifest('team/local', 'v1').expect(200);
  });

  test('?ns= routes to the mirror and is answered with OCI-Namespace; without it the name is local', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const byNs = await manifest(REPO, `v1?ns=${PREFIX}`).expect(200);
    assert.equal(byNs.headers['oci-namespace'], PREFIX);
    assert.deepEqual(byNs.body, seed.image.manifest.data);
    const other = await manifest(REPO, `${seed.image.manifest.digest}?ns=registry.up.test:5000`).expect(200);
    assert.equal(other.headers['oci-namespace'], 'registry.up.test:5000');
    await manifest(REPO, 'v1').expect(404);
  });

  test("tag lists are the upstream's, paged; referrers fall back to local ones (Distribution 2.8 has no referrers API); _catalog lists cached repositories by their local names", async (t) => {
    if (skipReason) return t.skip(skipReason);
    // Distribution 2.8 lists tags in its storage's order, and pages them only when asked to.
    const all = await berth.r().get(`/v2/${MIRRORED}/tags/list`).expect(200);
    assert.deepEqual([...(all.body as { tags: string[] }).tags].sort(), ['list', 'multi', 'v1']);
    const first = await berth.r().get(`/v2/${MIRRORED}/tags/list?n=1`).expect(200);
    const [one] = (first.body as { tags: string[] }).tags;
    assert.equal((first.body as { tags: string[] }).tags.length, 1);
    assert.match(String(first.headers.link), new RegExp(`^</v2/${MIRRORED}/tags/list\\?n=1&last=${one}>; rel="next"$`));
    const refs = await berth.r().get(`/v2/${MIRRORED}/referrers/${seed.image.manifest.digest}`).expect(200);
    assert.equal(refs.headers['content-type'], MT.ociIndex);
    const catalog = await berth.r().get('/v2/_catalog').expect(200);
    assert.ok((catalog.body as { repositories: string[] }).repositories.includes(MIRRORED));
  });
});

describe("Distribution's proxy: the whole registry mirrors one upstream", () => {
  test('pulls come through under the upstream names; pushes are refused', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const proxy = await startRegistry({ config: testConfig({ proxy: { remoteurl: dist!.url }, mirror: { spooldirectory: path.join(work, 'spool-proxy') } }) });
    t.after(() => proxy.close());
    const m = await getRaw(proxy.r(), `/v2/${REPO}/manifests/multi`).set('Accept', ACCEPT).expect(200);
    assert.deepEqual(m.body, seed.index.data);
    const layer = await getRaw(proxy.r(), `/v2/${REPO}/blobs/${seed.image.layer.digest}`).expect(200);
    assert.deepEqual(layer.body, seed.image.layer.data);
    await proxy.r().post('/v2/anything/blobs/uploads/').expect(405);
  });
});

describe("a default mirror: docker's registry-mirrors", () => {
  test('names that are no local repository are pulled from it (library/ added); local repositories win; pushes stay local', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const hub = await startRegistry({
      config: testConfig({ mirrors: [{ prefix: 'docker.io', url: dist!.url, default: true }], mirror: { spooldirectory: path.join(work, 'spool-default') } }),
    });
    t.after(() => hub.close());
    for (const name of ['app', 'library/app']) {
      const m = await getRaw(hub.r(), `/v2/${name}/manifests/v1`).set('Accept', ACCEPT).expect(200);
      assert.deepEqual(m.body, seed.image.manifest.data, name);
      assert.equal(m.headers['oci-namespace'], undefined);
    }
    assert.deepEqual((await getRaw(hub.r(), `/v2/app/blobs/${seed.image.layer.digest}`).expect(200)).body, seed.image.layer.data);
    const local = await pushImage(hub.r(), 'library/app', 'v1');
    const m = await getRaw(hub.r(), '/v2/library/app/manifests/v1').set('Accept', ACCEPT).expect(200);
    assert.deepEqual(m.body, local.manifest.data);
    assert.deepEqual((await getRaw(hub.r(), '/v2/docker.io/library/app/manifests/v1').set('Accept', ACCEPT).expect(200)).body, seed.image.manifest.data);
  });
});

describe('a mirror in read-only mode', () => {
  test('serves what is cached without asking the upstream, and nothing else', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const driver = createMemoryDriver();
    const mirrors = [{ prefix: PREFIX, url: gate.url }];
    const warm = await startRegistry({ driver, config: testConfig({ mirrors, mirror: { spooldirectory: path.join(work, 'spool-ro') } }) });
    t.after(() => warm.close());
    const pulled = await getRaw(warm.r(), `/v2/${MIRRORED}/manifests/list`).set('Accept', ACCEPT).expect(200);
    const frozen = await startRegistry({
      driver,
      config: testConfig({ mirrors, mirror: { spooldirectory: path.join(work, 'spool-ro') }, storage: { maintenance: { readonly: { enabled: true } } } }),
    });
    t.after(() => frozen.close());
    const before = gate.requests.length;
    assert.deepEqual((await getRaw(frozen.r(), `/v2/${MIRRORED}/manifests/list`).set('Accept', ACCEPT).expect(200)).body, pulled.body);
    await getRaw(frozen.r(), `/v2/${MIRRORED}/manifests/never-pulled`).expect(404);
    await getRaw(frozen.r(), `/v2/${MIRRORED}/blobs/${seed.image.config.digest}`).expect(404);
    assert.equal(gate.requests.length, before, 'the upstream was not asked');
  });
});
