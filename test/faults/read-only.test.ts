import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import { createMetrics } from '../../src/metrics/metrics';
import { startBerthProcess } from '../helpers/berth-process';
import { fetchManifest, assertBlobsServed } from '../helpers/registry-client';
import { assertOciError, startRegistry, testConfig } from '../api/server';
import { manifestDescriptor, MT, pushImage, pushManifest, randomBlob, repoName } from '../api/helpers';
import { mountTmpfs } from './tmpfs';
import { capturingLogger, faultCount, firstError, waitForReadiness } from './helpers';

test('a store remounted read-only under a running registry: writes get 503 with Retry-After, reads go on', { timeout: 60_000 }, async (t) => {
  const fs = await mountTmpfs('16m');
  if (typeof fs === 'string') return t.skip(fs);
  const root = join(fs.dir, 'registry');
  const { logger, lines } = capturingLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const reg = await startRegistry({
    config: testConfig({ storage: { filesystem: { rootdirectory: root } } }),
    driver: createFilesystemDriver({ rootDirectory: root }),
    deps: { logger, metrics, storageProbeIntervalMs: 200 },
  });
  try {
    const r = reg.r();
    const name = repoName('ro');
    const image = await pushImage(r, name, 'v1');
    await fs.remount('ro');

    const start = await r.post(`/v2/${name}/blobs/uploads/`).set('Content-Length', '0');
    assertOciError(start, 503, ['UNAVAILABLE']);
    assert.match(String(start.headers['retry-after']), /^\d+$/);
    assert.match(firstError(start).message, /read-only/);
    const blob = randomBlob(2000);
    const monolithic = await r.post(`/v2/${name}/blobs/uploads/?digest=${blob.digest}`).set('Content-Type', 'application/octet-stream').send(blob.data);
    assertOciError(monolithic, 503, ['UNAVAILABLE']);
    const tag = await pushManifest(r, name, 'v2', image.manifest);
    assertOciError(tag, 503, ['UNAVAILABLE']);
    assert.ok(tag.headers['retry-after']);

    const get = await r.get(`/v2/${name}/manifests/v1`).set('Accept', MT.ociManifest);
    assert.equal(get.status, 200);
    assert.equal((await r.get(`/v2/${name}/blobs/${image.layer.digest}`)).status, 200);
    assert.equal((await r.get(`/v2/${name}/tags/list`)).status, 200);

    const unready = await waitForReadiness(reg.url, 503);
    assert.match(String(unready.error), /read-only.*EROFS/);
    assert.ok(lines().some((l) => l.code === 'EROFS' && String(l.path).startsWith(root)), 'a log line names EROFS and the path');
    assert.ok((await faultCount(metrics, 'EROFS')) >= 1);

    await fs.remount('rw');
    await waitForReadiness(reg.url, 200);
    assert.equal((await pushManifest(r, name, 'v2', image.manifest)).status, 201);
  } finally {
    await reg.close();
    await fs.dispose();
  }
});

test('storage.maintenance.readonly.enabled serves a read-only mount: pulls work, writes get 405, ready', { timeout: 60_000 }, async (t) => {
  const fs = await mountTmpfs('16m');
  if (typeof fs === 'string') return t.skip(fs);
  const root = join(fs.dir, 'registry');
  const name = repoName('maint');
  let berth: Awaited<ReturnType<typeof startBerthProcess>> | undefined;
  try {
    const writer = await startRegistry({ config: testConfig({ storage: { filesystem: { rootdirectory: root } } }), driver: createFilesystemDriver({ rootDirectory: root }) });
    const image = await pushImage(writer.r(), name, 'v1');
    const signature = await pushImage(writer.r(), name, undefined, { subject: manifestDescriptor(image.manifest), artifactType: 'application/x.sig' });
    await writer.close();
    // As Distribution leaves a repository: no referrer index, which the first listing builds.
    await rm(join(root, 'docker/registry/v2/repositories', name, '_referrers'), { recursive: true });
    await fs.remount('ro');

    // No http.secret: the instance guard, which writes a heartbeat, is what used to stop start-up.
    berth = await startBerthProcess({
      env: {
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
        REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true',
        REGISTRY_STORAGE_MAINTENANCE_GC_ENABLED: 'true',
        REGISTRY_STORAGE_MAINTENANCE_GC_INTERVAL: '1s',
        REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL: '1s',
      },
    });
    const pulled = await fetchManifest(berth.url, name, 'v1');
    assert.equal(pulled.digest, image.manifest.digest);
    assert.equal(await assertBlobsServed(berth.url, name, pulled.body), 2);
    const referrers = await fetch(`${berth.url}/v2/${name}/referrers/${image.manifest.digest}`);
    assert.equal(referrers.status, 200);
    const index = (await referrers.json()) as { manifests: { digest: string }[] };
    assert.deepEqual(index.manifests.map((m) => m.digest), [signature.manifest.digest]);

    const push = await fetch(`${berth.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(push.status, 405);
    assert.equal(((await push.json()) as { errors: { code: string }[] }).errors[0].code, 'UNSUPPORTED');
    assert.equal((await fetch(`${berth.url}/v2/${name}/manifests/v1`, { method: 'DELETE' })).status, 405);

    // Background writers stay off: a few of their intervals later, nothing has failed.
    await new Promise((r) => setTimeout(r, 2500));
    const ready = await fetch(`${berth.url}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    assert.doesNotMatch(berth.logs(), /EROFS|"level":"(warn|error)"/);
  } finally {
    await berth?.stop();
    await fs.dispose();
  }
});
