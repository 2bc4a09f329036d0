import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { umociImage, type LayoutManifest } from '../helpers/images';
import { requireTools } from '../helpers/tools';

/*
 * dockerd with `--registry-mirror` pointing at Berth: it asks the mirror for Docker Hub names
 * (`/v2/library/app/...`, never `ns`), which Berth's default mirror serves from the upstream. The
 * real Docker Hub is unreachable here, so a pull that works came through Berth.
 */

const skip = requireTools(['dockerd', 'docker', 'skopeo', 'umoci', 'busybox'], { root: true });

describe('dockerd with Berth as its registry mirror', { skip, timeout: 300_000 }, () => {
  let skipReason: string | undefined;
  let work = '';
  let dist: DistributionProcess | undefined;
  let berth: TestRegistry | undefined;
  let dockerd: Dockerd | undefined;
  let image: LayoutManifest;

  before(async () => {
    skipReason = await distributionSkipReason();
    if (skipReason) return;
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-dockerd-'));
    dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
    const layout = path.join(work, 'layout');
    image = await umociImage(layout, 'v1', { message: 'pulled through the berth mirror' });
    await run('skopeo', ['copy', '--insecure-policy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${new URL(dist.url).host}/library/app:v1`]);
    berth = await startRegistry({
      config: testConfig({ mirrors: [{ prefix: 'docker.io', url: dist.url, default: true }], mirror: { spooldirectory: path.join(work, 'spool') } }),
    });
    dockerd = await startDockerd({ args: ['--registry-mirror', berth.url] });
  });

  after(async () => {
    await dockerd?.stop();
    await berth?.close();
    await dist?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('docker pull app:v1 gets library/app through Berth, which caches it under docker.io/library/app; the image runs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    await dockerd!.docker(['pull', 'app:v1']);
    const digests = await dockerd!.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'app:v1']);
    assert.ok(digests.includes(image.digest), digests);
    assert.equal((await berth!.app.registry.manifests.resolve('docker.io/library/app', { tag: 'v1' })).value, image.digest);
    const out = await dockerd!.docker(['run', '--rm', '--network', 'none', 'app:v1']);
    assert.equal(out.trim(), 'pulled through the berth mirror');
  });
});
