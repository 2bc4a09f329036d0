import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { startContainerd, type Containerd } from '../helpers/containerd';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { requireTools } from '../helpers/tools';
import { seedUpstream, type Seeded } from './helpers';
import { startGate, type UpstreamGate } from './upstream-gate';

/*
 * containerd asking Berth as a hosts.toml mirror of docker.io: it sends `?ns=docker.io` on every
 * request and falls back to the server (unreachable here) only if the mirror fails, so a fetch that
 * succeeds came through Berth. `ctr content fetch` stores what it pulls without unpacking it (the
 * test images' layers are random bytes).
 */

const skip = requireTools(['containerd', 'ctr'], { root: true });

describe('ctr (containerd) with Berth as its docker.io mirror', { skip, timeout: 180_000 }, () => {
  let skipReason: string | undefined;
  let work = '';
  let dist: DistributionProcess | undefined;
  let gate: UpstreamGate | undefined;
  let berth: TestRegistry | undefined;
  let containerd: Containerd | undefined;
  let seed: Seeded;
  let hostsDir = '';

  before(async () => {
    skipReason = await distributionSkipReason();
    if (skipReason) return;
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-ctr-'));
    dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
    seed = await seedUpstream(request.agent(dist.url), 'library/app');
    gate = await startGate(dist.url);
    berth = await startRegistry({
      config: testConfig({ mirrors: [{ prefix: 'docker.io', url: gate.url }], mirror: { spooldirectory: path.join(work, 'spool') } }),
    });
    hostsDir = path.join(work, 'certs.d');
    await mkdir(path.join(hostsDir, 'docker.io'), { recursive: true });
    await writeFile(
      path.join(hostsDir, 'docker.io', 'hosts.toml'),
      ['server = "https://registry-1.docker.io.invalid"', `[host."${berth.url}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n'),
    );
    containerd = await startContainerd();
  });

  after(async () => {
    await containerd?.stop();
    await berth?.close();
    await gate?.close();
    await dist?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a multi-platform index by tag, every platform, through ?ns=docker.io; again into a new namespace with the upstream stopped', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const fetch = (namespace: string) => containerd!.ctr(['content', 'fetch', '--hosts-dir', hostsDir, '--all-platforms', 'docker.io/library/app:multi'], { namespace });
    await fetch('first');
    const listed = await containerd!.ctr(['content', 'ls', '-q'], { namespace: 'first' });
    const children = (JSON.parse(seed.index.data.toString('utf8')) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest);
    // Without ?ns= routing Berth would answer 404 for the local name library/app, and containerd's
    // fallback server does not resolve: the content can only have come through the mirror.
    for (const d of [seed.index.digest, ...children]) assert.ok(listed.includes(d), `${d} not in ${listed}`);
    assert.ok(gate!.requests.some((r) => r.url === `/v2/library/app/manifests/${children[1]}`), 'children were fetched from the upstream by digest');
    gate!.target = undefined;
    // Within tagttl (5m), the tag and everything it names come from Berth's cache.
    await fetch('second');
    assert.equal(await containerd!.ctr(['content', 'ls', '-q'], { namespace: 'second' }), listed);
  });
});
