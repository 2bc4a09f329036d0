import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { makeContainersEnv, policyFlag, type ContainersEnv } from '../helpers/containers-env';
import { run } from '../helpers/exec';
import { requireTools } from '../helpers/tools';
import { seedUpstream, type Seeded } from './helpers';

/* A real client through the mirror: skopeo copies from Berth's prefix name, Distribution 2.8 upstream. */

const skip = requireTools(['skopeo']);

describe('skopeo copy through the mirror', { skip, timeout: 120_000 }, () => {
  let skipReason: string | undefined;
  let work = '';
  let dist: DistributionProcess | undefined;
  let berth: TestRegistry | undefined;
  let containers: ContainersEnv | undefined;
  let seed: Seeded;

  before(async () => {
    skipReason = await distributionSkipReason();
    if (skipReason) return;
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-skopeo-'));
    dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
    seed = await seedUpstream(request.agent(dist.url), 'library/app');
    berth = await startRegistry({
      config: testConfig({ mirrors: [{ prefix: 'docker.io', url: dist.url }], mirror: { spooldirectory: path.join(work, 'spool') } }),
    });
    containers = await makeContainersEnv();
  });

  after(async () => {
    await berth?.close();
    await dist?.stop();
    await containers?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** skopeo copy from `registry` (Berth by default); the digest of what it wrote. */
  const copy = async (flags: string[], ref: string, dest: string, registry = berth!.url): Promise<string> => {
    const digestFile = path.join(work, `digest-${Math.random()}`);
    const src = `docker://${new URL(registry).host}/${ref}`;
    // skopeo 1.9 reads only /etc/containers/registries.conf unless told otherwise (not CONTAINERS_REGISTRIES_CONF).
    await run('skopeo', [policyFlag(containers!), `--registries-conf=${containers!.env.CONTAINERS_REGISTRIES_CONF!}`, 'copy', '--src-tls-verify=false', '--digestfile', digestFile, ...flags, src, dest], { env: containers!.env });
    return (await readFile(digestFile, 'utf8')).trim();
  };

  test('an image by tag and a multi-platform index with --all, as copied from the upstream itself, then again from the cache', async (t) => {
    if (skipReason) return t.skip(skipReason);
    // skopeo rewrites the test's random "layers" when it writes a layout: what it writes from the
    // upstream directly is the reference.
    const image = await copy([], 'library/app:v1', `oci:${path.join(work, 'direct')}:v1`, dist!.url);
    const index = await copy(['--all'], 'library/app:multi', `oci:${path.join(work, 'direct')}:multi`, dist!.url);
    assert.equal(await copy([], 'docker.io/library/app:v1', `oci:${path.join(work, 'image')}:v1`), image);
    assert.equal(await copy(['--all'], 'docker.io/library/app:multi', `oci:${path.join(work, 'index')}:multi`), index);
    await dist!.stop();
    // Upstream gone: everything above is cached, by digest and (within tagttl) by tag.
    assert.equal(await copy(['--all'], `docker.io/library/app@${seed.index.digest}`, `oci:${path.join(work, 'again')}:multi`), index);
    assert.equal(await copy([], 'docker.io/library/app:v1', `oci:${path.join(work, 'again')}:v1`), image);
  });

  test('a registries.conf mirror (as podman and skopeo read it) for docker.io: docker.io/library/app resolves through Berth', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const host = new URL(berth!.url).host;
    await writeFile(
      containers!.env.CONTAINERS_REGISTRIES_CONF!,
      ['unqualified-search-registries = []', '[[registry]]', 'prefix = "docker.io"', 'location = "registry-1.docker.io.invalid"', '[[registry.mirror]]', `location = "${host}/docker.io"`, 'insecure = true', ''].join('\n'),
    );
    // No --src-tls-verify: the mirror entry's insecure applies; the upstream itself is stopped by now.
    const digestFile = path.join(work, 'digest-registries-conf');
    // skopeo 1.9 reads only /etc/containers/registries.conf unless told otherwise (not CONTAINERS_REGISTRIES_CONF).
    await run('skopeo', [policyFlag(containers!), `--registries-conf=${containers!.env.CONTAINERS_REGISTRIES_CONF!}`, 'copy', '--digestfile', digestFile, 'docker://docker.io/library/app:v1', `oci:${path.join(work, 'conf')}:v1`], { env: containers!.env });
    const direct = (await readFile(path.join(work, 'direct', 'index.json'), 'utf8')).includes((await readFile(digestFile, 'utf8')).trim());
    assert.ok(direct, 'the same image as copied from the upstream directly');
  });
});
