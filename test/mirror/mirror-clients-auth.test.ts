import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { startContainerd, type Containerd } from '../helpers/containerd';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { CommandError, run } from '../helpers/exec';
import { umociImage, type LayoutManifest } from '../helpers/images';
import { requireTools } from '../helpers/tools';
import { USERS, authConfig, authFixture, startAuthRegistry, type AuthFixture, type AuthRegistry } from '../auth/helpers';
import { seedUpstream, type Seeded } from './helpers';

/*
 * Real clients pulling through a mirror of docker.io on a Berth in token mode (its own token server),
 * where the policy on the local names decides: docker.io/library/app is alice's, the rest of
 * docker.io/** anyone's. containerd (hosts.toml mirror, `?ns=docker.io`) takes its token's scope from
 * Berth's challenge; dockerd (registry-mirrors, the default mirror) asks for the name it pulls,
 * `library/run`, whatever the challenge says. Docker Hub is unreachable here: what is pulled came
 * through Berth.
 */

const MESSAGE = 'pulled through the berth mirror with token auth';
const setupSkip = requireTools(['skopeo', 'umoci', 'busybox']);
let skipReason: string | undefined;
let fixture: AuthFixture | undefined;
let dist: DistributionProcess | undefined;
let berth: AuthRegistry | undefined;
let seed: Seeded;
let runnable: LayoutManifest;

before(async () => {
  skipReason = setupSkip || (await distributionSkipReason());
  if (skipReason) return;
  fixture = await authFixture();
  dist = await startDistribution({ rootDirectory: path.join(fixture.dir, 'upstream') });
  seed = await seedUpstream(request.agent(dist.url), 'library/app');
  const layout = path.join(fixture.dir, 'layout');
  runnable = await umociImage(layout, 'v1', { message: MESSAGE });
  await run('skopeo', ['copy', '--insecure-policy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${new URL(dist.url).host}/library/run:v1`]);
  berth = await startAuthRegistry(
    authConfig(
      {
        htpasswd: { realm: 'berth', path: fixture.htpasswd },
        token: {},
        accesscontrol: {
          repositories: {
            'docker.io/library/app': { policies: [{ users: ['alice'], actions: ['pull'] }] },
            'docker.io/**': { anonymouspolicy: ['pull'] },
          },
        },
      },
      { mirrors: [{ prefix: 'docker.io', url: dist.url, default: true }], mirror: { spooldirectory: path.join(fixture.dir, 'spool') } },
    ),
  );
});

after(async () => {
  await berth?.close();
  await dist?.stop();
  await fixture?.cleanup();
});

describe('ctr (containerd) with a hosts.toml mirror on a Berth in token mode', { skip: requireTools(['containerd', 'ctr'], { root: true }), timeout: 180_000 }, () => {
  let containerd: Containerd | undefined;
  let hostsDir = '';
  before(async () => {
    if (skipReason) return;
    hostsDir = path.join(fixture!.dir, 'certs.d');
    await mkdir(path.join(hostsDir, 'docker.io'), { recursive: true });
    await writeFile(
      path.join(hostsDir, 'docker.io', 'hosts.toml'),
      ['server = "https://registry-1.docker.io.invalid"', `[host."${berth!.url}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'),
    );
    containerd = await startContainerd();
  });
  after(async () => containerd?.stop());

  const fetchImage = (ref: string, namespace: string, user?: keyof typeof USERS) =>
    containerd!.ctr(['content', 'fetch', '--hosts-dir', hostsDir, '--all-platforms', ...(user ? ['--user', `${user}:${USERS[user]}`] : []), ref], { namespace });

  test('a private docker.io/library/app: refused without credentials and to bob, fetched with --user alice', async (t) => {
    if (skipReason) return t.skip(skipReason);
    for (const [namespace, user] of [['anonymous', undefined], ['bob', 'bob']] as const) {
      await assert.rejects(fetchImage('docker.io/library/app:multi', namespace, user), (e: unknown) => {
        assert.ok(e instanceof CommandError, String(e));
        assert.match(e.result.stderr, /401|unauthorized|authorization/i);
        return true;
      });
    }
    await fetchImage('docker.io/library/app:multi', 'alice', 'alice');
    const listed = await containerd!.ctr(['content', 'ls', '-q'], { namespace: 'alice' });
    const children = (JSON.parse(seed.index.data.toString('utf8')) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest);
    for (const d of [seed.index.digest, ...children]) assert.ok(listed.includes(d), `${d} not in ${listed}`);
  });

  test('docker.io/** open to anonymous pulls by policy: fetched without credentials', async (t) => {
    if (skipReason) return t.skip(skipReason);
    await fetchImage('docker.io/library/run:v1', 'open');
    const listed = await containerd!.ctr(['content', 'ls', '-q'], { namespace: 'open' });
    assert.ok(listed.includes(runnable.digest), `${runnable.digest} not in ${listed}`);
  });
});

describe('dockerd with registry-mirrors on a Berth in token mode', { skip: requireTools(['dockerd', 'docker'], { root: true }), timeout: 300_000 }, () => {
  let dockerd: Dockerd | undefined;
  after(async () => dockerd?.stop());

  test('docker pull run:v1 anonymously through the default mirror, with the token docker asks for; the image runs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    dockerd = await startDockerd({ args: ['--registry-mirror', berth!.url] });
    await dockerd.docker(['pull', 'run:v1']);
    const digests = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'run:v1']);
    assert.ok(digests.includes(runnable.digest), digests);
    assert.equal((await dockerd.docker(['run', '--rm', '--network', 'none', 'run:v1'])).trim(), MESSAGE);
  });
});
