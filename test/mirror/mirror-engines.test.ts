import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { makeContainersEnv, type ContainersEnv } from '../helpers/containers-env';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { umociImage, type LayoutManifest } from '../helpers/images';
import { requireTools } from '../helpers/tools';

/*
 * Container engines pulling Docker Hub names through Berth, configured the way nodes are: dockerd's
 * `--registry-mirror` (asks `/v2/library/app/...`, never `ns`: Berth's default mirror) and podman's
 * registries.conf mirror (`<berth>/docker.io`: the prefix). Docker Hub is unreachable here, so a
 * pull that works came through Berth. The upstream is Distribution 2.8 holding a runnable image.
 */

const MESSAGE = 'pulled through the berth mirror';
const setupSkip = requireTools(['skopeo', 'umoci', 'busybox']);
let skipReason: string | undefined;
let work = '';
let dist: DistributionProcess | undefined;
let berth: TestRegistry | undefined;
let image: LayoutManifest;

before(async () => {
  skipReason = setupSkip || (await distributionSkipReason());
  if (skipReason) return;
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-engines-'));
  dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
  const layout = path.join(work, 'layout');
  image = await umociImage(layout, 'v1', { message: MESSAGE });
  await run('skopeo', ['copy', '--insecure-policy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${new URL(dist.url).host}/library/app:v1`]);
  berth = await startRegistry({
    config: testConfig({ mirrors: [{ prefix: 'docker.io', url: dist.url, default: true }], mirror: { spooldirectory: path.join(work, 'spool') } }),
  });
});

after(async () => {
  await berth?.close();
  await dist?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('dockerd with Berth as its registry mirror', { skip: requireTools(['dockerd', 'docker'], { root: true }), timeout: 300_000 }, () => {
  let dockerd: Dockerd | undefined;
  after(async () => dockerd?.stop());

  test('docker pull app:v1 gets library/app through Berth, which caches it under docker.io/library/app; the image runs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    dockerd = await startDockerd({ args: ['--registry-mirror', berth!.url] });
    await dockerd.docker(['pull', 'app:v1']);
    const digests = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'app:v1']);
    assert.ok(digests.includes(image.digest), digests);
    assert.equal((await berth!.app.registry.manifests.resolve('docker.io/library/app', { tag: 'v1' })).value, image.digest);
    assert.equal((await dockerd.docker(['run', '--rm', '--network', 'none', 'app:v1'])).trim(), MESSAGE);
  });
});

describe('podman with a registries.conf mirror of docker.io', { skip: requireTools(['podman', 'runc', 'conmon'], { root: true }), timeout: 300_000 }, () => {
  let containers: ContainersEnv | undefined;
  after(async () => containers?.cleanup());

  test('podman pull docker.io/library/app:v1 comes through Berth under its prefix; the image runs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    containers = await makeContainersEnv();
    const conf = ['unqualified-search-registries = []', '[[registry]]', 'prefix = "docker.io"', 'location = "registry-1.docker.io.invalid"', '[[registry.mirror]]'];
    await writeFile(containers.env.CONTAINERS_REGISTRIES_CONF!, [...conf, `location = "${new URL(berth!.url).host}/docker.io"`, 'insecure = true', ''].join('\n'));
    const podman = async (...args: string[]) => (await run('podman', args, { env: containers!.env })).stdout;
    await podman('pull', '--quiet', 'docker.io/library/app:v1');
    assert.ok((await podman('image', 'inspect', '--format', '{{json .RepoDigests}}', 'docker.io/library/app:v1')).includes(image.digest));
    assert.equal((await podman('run', '--rm', '--network', 'none', 'docker.io/library/app:v1')).trim(), MESSAGE);
  });
});
