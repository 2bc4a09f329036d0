import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import type { CompleteImageReport, IndexReport, PendingImageReport } from '../../src/insight/report/report-types';
import { testConfig } from '../api/server';
import { startInsightRegistry, type InsightRegistry } from './insight-server';
import { bytes, MT, PEM, pushImage, Pusher, THREE_LAYERS, type PushedImage } from './images';

const PEM_SIZE = Buffer.byteLength(PEM);

async function report<T>(p: Pusher, name: string, reference: string, status = 200): Promise<T> {
  const res = await p.get(`/v2/${name}/_berth/insight/${reference}`);
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}

/** Asks until complete (the test analyser runs each job off the request's turn). */
async function completeReport(p: Pusher, name: string, reference: string): Promise<CompleteImageReport> {
  for (let i = 0; i < 200; i++) {
    const res = await p.get(`/v2/${name}/_berth/insight/${reference}`);
    const text = await res.text();
    if (res.status === 200) return JSON.parse(text) as CompleteImageReport;
    assert.equal(res.status, 202, text);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the report stayed pending');
}

for (const kind of ['memory', 'filesystem'] as const) {
  describe(`insight report on the ${kind} driver`, () => {
    let reg: InsightRegistry;
    let p: Pusher;
    let dir: string | undefined;
    let image: PushedImage;
    before(async () => {
      let driver: StorageDriver = createMemoryDriver();
      if (kind === 'filesystem') {
        dir = await mkdtemp(path.join(os.tmpdir(), 'berth-insight-'));
        driver = createFilesystemDriver({ rootDirectory: dir });
      }
      reg = await startInsightRegistry({ driver });
      p = new Pusher(reg.url);
      image = await pushImage(p, 'app', '1.0', THREE_LAYERS);
    });
    after(async () => {
      await reg.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('a whiteout and an opaque directory: exact wasted bytes, efficiency and offenders with their instructions', async () => {
      const r = await completeReport(p, 'app', '1.0');
      const shipped = 10000 + 100 + PEM_SIZE + 50 + 200 + 30;
      const reachable = 100 + 200 + 30;
      assert.equal(r.status, 'complete');
      assert.equal(r.digest, image.manifest.digest);
      assert.equal(r.shippedBytes, shipped);
      assert.equal(r.reachableBytes, reachable);
      assert.equal(r.wastedBytes, shipped - reachable);
      assert.equal(r.efficiency, reachable / shipped);
      assert.deepEqual(
        r.offenders.map((o) => [o.path, o.size, o.addedBy.index, o.addedBy.createdBy, o.hiddenBy.index, o.hiddenBy.createdBy]),
        [
          ['app/big.bin', 10000, 0, 'ADD rootfs.tar /', 1, 'RUN rm /app/big.bin /app/id_ed25519 && make'],
          ['app/id_ed25519', PEM_SIZE, 0, 'ADD rootfs.tar /', 1, 'RUN rm /app/big.bin /app/id_ed25519 && make'],
          ['etc/conf', 50, 0, 'ADD rootfs.tar /', 2, 'COPY etc /etc'],
        ],
      );
      assert.deepEqual(
        r.layers.map((l) => [l.index, l.digest, l.outcome, l.createdBy, l.shippedBytes, l.hiddenBytes, l.compressedSize, l.files]),
        [
          [0, image.layers[0].digest, 'analysed', 'ADD rootfs.tar /', 10150 + PEM_SIZE, 10050 + PEM_SIZE, image.layers[0].size, 4],
          [1, image.layers[1].digest, 'analysed', 'RUN rm /app/big.bin /app/id_ed25519 && make', 200, 0, image.layers[1].size, 1],
          [2, image.layers[2].digest, 'analysed', 'COPY etc /etc', 30, 0, image.layers[2].size, 1],
        ],
      );
      assert.deepEqual(r.totals, {
        layers: 3,
        compressedBytes: image.layers.reduce((s, l) => s + l.size, 0),
        uncompressedBytes: r.layers.reduce((s, l) => s + (l.uncompressedSize ?? 0), 0),
        files: 6,
      });
      assert.ok(r.totals.uncompressedBytes > shipped);
      assert.deepEqual(r.skippedLayers, []);
      assert.deepEqual(r.config, { digest: image.config.digest, size: image.config.size });
    });

    test('a key a later layer deletes is still reported with its layer, and the config Env too', async () => {
      const r = await completeReport(p, 'app', '1.0');
      assert.equal(r.secrets.mode, 'warn');
      const found = r.secrets.findings.map((f) => [f.path, f.rule, f.layer?.index ?? 'config', f.inConfig ?? false]);
      assert.deepEqual(found, [
        ['app/id_ed25519', 'private-key', 0, false],
        ['config.Env[1]', 'credential-variable', 'config', true],
      ]);
      for (const f of r.secrets.findings) assert.match(f.fingerprint, /^[a-z-]+:.{4}…:[0-9a-f]{16}$/);
      assert.ok(!JSON.stringify(r).includes('correct-horse-battery'), 'the secret itself never shows');
    });

    test('the merge is cached under the manifest digest: the next ask reads it, a damaged cache is recomputed', async () => {
      const first = await completeReport(p, 'app', '1.0');
      const cachePath = paths.insightImage(parseDigest(image.manifest.digest));
      const cached = JSON.parse((await reg.driver.getContent(cachePath)).toString('utf8')) as { manifest: string; analysedAt: string };
      assert.equal(cached.manifest, image.manifest.digest);
      // Layer file lists gone: a report that only reads the cache does not notice.
      const list = paths.insightFileList(parseDigest(image.layers[0].digest));
      const saved = await reg.driver.getContent(list);
      await reg.driver.delete(list);
      const second = await report<CompleteImageReport>(p, 'app', image.manifest.digest);
      assert.equal(second.analysedAt, first.analysedAt);
      assert.equal(second.reference, image.manifest.digest);
      await reg.driver.putContent(list, saved);
      await reg.driver.putContent(cachePath, Buffer.from('{not json'));
      const third = await report<CompleteImageReport>(p, 'app', '1.0');
      assert.equal(third.wastedBytes, first.wastedBytes);
      assert.equal((JSON.parse((await reg.driver.getContent(cachePath)).toString('utf8')) as { manifest: string }).manifest, image.manifest.digest);
    });
  });
}

describe('insight report: images, indexes, pending, policies', () => {
  let reg: InsightRegistry;
  let p: Pusher;
  before(async () => {
    const config = testConfig({
      insight: {
        repositories: {
          'allowed/by-path': { secrets: 'warn', allow: { paths: ['app/**', 'config.Env*'] } },
          'allowed/by-rule': { secrets: 'warn', allow: { rules: ['private-key'] } },
          'quiet/**': { secrets: 'off' },
        },
      },
    });
    reg = await startInsightRegistry({ config, manual: true });
    p = new Pusher(reg.url);
  });
  after(() => reg.close());

  test('pending until every layer has a record; the first ask queues them; then complete', async () => {
    const image = await pushImage(p, 'pending/app', 'v1', { layers: [[{ name: 'a', content: 'a' }], [{ name: 'b', content: 'bb' }]] });
    const res = await p.get('/v2/pending/app/_berth/insight/v1');
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('retry-after'), '2');
    const pending = (await res.json()) as PendingImageReport;
    assert.equal(pending.status, 'pending');
    assert.deepEqual(pending.pending, image.layers.map((l, index) => ({ index, digest: l.digest })));
    const queued = await reg.analysis!.enqueued();
    assert.ok(image.layers.every((l) => queued.includes(l.digest)));
    await reg.analysis!.drain();
    const done = await report<CompleteImageReport>(p, 'pending/app', 'v1');
    assert.equal(done.status, 'complete');
    assert.equal(done.shippedBytes, 3);
    assert.equal(done.efficiency, 1);
  });

  test('allow-lists by path and by rule drop findings; off reports none; the mode is shown', async () => {
    for (const name of ['allowed/by-path', 'allowed/by-rule', 'quiet/app', 'plain/app']) await pushImage(p, name, 'v1', THREE_LAYERS);
    await p.get('/v2/plain/app/_berth/insight/v1');
    await reg.analysis!.drain();
    const rules = async (name: string) => {
      const r = await report<CompleteImageReport>(p, name, 'v1');
      return [r.secrets.mode, r.secrets.findings.map((f) => f.rule)];
    };
    assert.deepEqual(await rules('plain/app'), ['warn', ['private-key', 'credential-variable']]);
    assert.deepEqual(await rules('allowed/by-path'), ['warn', []]);
    assert.deepEqual(await rules('allowed/by-rule'), ['warn', ['credential-variable']]);
    assert.deepEqual(await rules('quiet/app'), ['off', []]);
  });

  test('a Docker schema 2 image, and a layer that is not a tar: reported as such, left out of the merge', async () => {
    await pushImage(p, 'docker/app', 'v1', { docker: true, layers: [[{ name: 'x', content: bytes(10) }]] });
    await p.get('/v2/docker/app/_berth/insight/v1');
    await reg.analysis!.drain();
    const r = await report<CompleteImageReport>(p, 'docker/app', 'v1');
    assert.equal(r.mediaType, MT.dockerManifest);
    assert.equal(r.shippedBytes, 10);
    // A layer of random bytes: neither gzip, zstd nor tar.
    const junk = { data: Buffer.from('this is not a layer at all'), digest: '', size: 0 };
    const { blob } = await import('./images');
    const b = blob(junk.data);
    await p.blob('junk/app', b);
    const base = await pushImage(p, 'junk/app', undefined, { layers: [[{ name: 'y', content: bytes(5) }]] });
    const cfg = base.config;
    await p.manifest('junk/app', 'v1', MT.ociManifest, {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: MT.ociLayer, digest: base.layers[0].digest, size: base.layers[0].size }, { mediaType: MT.ociLayer, digest: b.digest, size: b.size }],
    });
    await p.get('/v2/junk/app/_berth/insight/v1');
    await reg.analysis!.drain();
    const j = await report<CompleteImageReport>(p, 'junk/app', 'v1');
    assert.deepEqual(j.layers.map((l) => l.outcome), ['analysed', 'not-a-layer']);
    assert.deepEqual(j.skippedLayers, [1]);
    assert.match(j.notes[0], /layer 1 .* is not a tar layer: the merge leaves it out/);
    assert.equal(j.shippedBytes, 5);
  });

  test('an index with two platforms: a report per child, with its platform and link', async () => {
    const amd = await pushImage(p, 'multi/app', undefined, { layers: [[{ name: 'bin/app', content: bytes(40) }]] });
    const arm = await pushImage(p, 'multi/app', undefined, { platform: { architecture: 'arm64', os: 'linux' }, layers: [[{ name: 'bin/app', content: bytes(30) }], [{ name: 'bin/.wh.app', content: '' }]] });
    const index = await p.manifest('multi/app', 'v1', MT.ociIndex, {
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [
        { mediaType: MT.ociManifest, digest: amd.manifest.digest, size: amd.manifest.size, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: MT.ociManifest, digest: arm.manifest.digest, size: arm.manifest.size, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    });
    // The analyser runs since the first test's drain: the children may be done already (pending is the first test's).
    await reg.analysis!.drain();
    const r = await report<IndexReport>(p, 'multi/app', 'v1');
    assert.equal(r.digest, index.digest);
    assert.equal(r.status, 'complete');
    assert.deepEqual(
      r.manifests.map((m) => [m.digest, m.platform?.architecture, m.status, m.href, (m.report as CompleteImageReport).wastedBytes]),
      [
        [amd.manifest.digest, 'amd64', 'complete', `/v2/multi/app/_berth/insight/${amd.manifest.digest}`, 0],
        [arm.manifest.digest, 'arm64', 'complete', `/v2/multi/app/_berth/insight/${arm.manifest.digest}`, 30],
      ],
    );
  });

  test('unknown manifests, bad references and a disabled insight answer OCI errors', async () => {
    const unknown = await p.get('/v2/pending/app/_berth/insight/nope');
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { errors: Array<{ code: string }> }).errors[0].code, 'MANIFEST_UNKNOWN');
    const bad = await p.get('/v2/pending/app/_berth/insight/sha256:1234');
    assert.equal(bad.status, 400);
    const off = await startInsightRegistry({ config: testConfig({ insight: { enabled: false } }) });
    try {
      const res = await fetch(`${off.url}/v2/app/_berth/insight/1.0`);
      assert.equal(res.status, 404);
      const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
      assert.deepEqual(body.errors[0], { code: 'UNSUPPORTED', message: 'image insight is disabled on this registry' });
    } finally {
      await off.close();
    }
  });
});
