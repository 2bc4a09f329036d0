import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import { createMetrics } from '../../src/metrics/metrics';
import { assertOciError, startRegistry, testConfig } from '../api/server';
import { descriptor, MT, ociManifest, pushImage, pushManifest, repoName } from '../api/helpers';
import { mountTmpfs } from './tmpfs';
import { assertRepositoryWhole, capturingLogger, faultCount, firstError, patchUntilRefused, waitForReadiness } from './helpers';

test('a full disk: pushes get 507, nothing half-written shows, readiness recovers once space is freed', { timeout: 90_000 }, async (t) => {
  const fs = await mountTmpfs('2m');
  if (typeof fs === 'string') return t.skip(fs);
  const root = join(fs.dir, 'registry');
  const driver = createFilesystemDriver({ rootDirectory: root });
  const { logger, lines } = capturingLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const reg = await startRegistry({ config: testConfig({ storage: { filesystem: { rootdirectory: root } } }), driver, deps: { logger, metrics, storageProbeIntervalMs: 200 } });
  try {
    const r = reg.r();
    const name = repoName('full');
    const image = await pushImage(r, name, 'before');
    await waitForReadiness(reg.url, 200);

    const failed = await patchUntilRefused(r, name, 64 * 1024, 4 << 20);
    assert.ok(failed.accepted > 0, 'some of the upload went in before the disk filled');
    assertOciError(failed.res, 507, ['UNAVAILABLE']);
    assert.match(firstError(failed.res).message, /storage is full/);
    assert.deepEqual(firstError(failed.res).detail, { cause: 'ENOSPC' });

    // A manifest push while full is refused the same way, and its tag must not appear half-made.
    const m = ociManifest({ config: descriptor(image.config, MT.ociConfig), layers: [descriptor(image.layer, MT.ociLayer)], annotations: { pad: 'x'.repeat(8192) } });
    const refused = await pushManifest(r, name, 'during', m);
    if (refused.status !== 201) assertOciError(refused, 507, ['UNAVAILABLE']);
    assert.ok((await assertRepositoryWhole(r, name)) >= 1);

    const unready = await waitForReadiness(reg.url, 503);
    assert.match(String(unready.error), /storage is full.*ENOSPC/);
    const get = await r.get(`/v2/${name}/manifests/before`).set('Accept', MT.ociManifest);
    assert.equal(get.status, 200, 'reads go on while the disk is full');
    assert.equal((await r.get(`/v2/${name}/blobs/${image.layer.digest}`)).status, 200);

    const logged = lines().find((l) => l.code === 'ENOSPC');
    assert.ok(logged, `no log line names ENOSPC: ${JSON.stringify(lines().slice(-5))}`);
    assert.ok(String(logged.path).startsWith(root), `the log line names the path: ${JSON.stringify(logged)}`);
    assert.ok((await faultCount(metrics, 'ENOSPC')) >= 1);

    // Cancelling the failed upload frees its bytes: a probe write then succeeds on its own.
    assert.equal((await r.delete(failed.session)).status, 204);
    const ready = await waitForReadiness(reg.url, 200);
    assert.equal(ready.status, 'ready');
    await pushImage(r, name, 'after');
    assert.ok((await assertRepositoryWhole(r, name)) >= 2);
  } finally {
    await reg.close();
    await fs.dispose();
  }
});
