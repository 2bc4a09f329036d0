import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { MT, getRaw } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { SECRET, USERS, getToken, writeHtpasswd } from '../auth/helpers';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { seedUpstream, type Seeded } from './helpers';

/*
 * A Berth process in token mode as the upstream: the mirror gets Bearer tokens from its realm with
 * the configured credentials, and proxies its referrers API (which Distribution 2.8 lacks).
 */

const PREFIX = 'berth.up';
const NAME = `${PREFIX}/team/app`;
let dir = '';
let upstream: BerthProcess | undefined;
let mirror: TestRegistry | undefined;
let seed: Seeded;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-berth-'));
  const htpasswd = path.join(dir, 'htpasswd');
  await writeHtpasswd(htpasswd);
  const config = path.join(dir, 'upstream.yml');
  const policy = '      "team/**": {policies: [{users: [alice], actions: [pull, push]}]}';
  await writeFile(config, ['storage: {inmemory: {}}', `http: {secret: ${JSON.stringify(SECRET)}}`, 'auth:', `  htpasswd: {path: ${JSON.stringify(htpasswd)}}`, '  token: {service: up, issuer: up}', '  accesscontrol:', '    repositories:', policy, ''].join('\n'));
  upstream = await startBerthProcess({ args: ['--config', config] });
  const token = await getToken(upstream.url, { user: 'alice', service: 'up', scopes: ['repository:team/app:pull,push'] });
  seed = await seedUpstream(request.agent(upstream.url).set('Authorization', `Bearer ${String(token.body.token)}`), 'team/app');
  mirror = await startRegistry({
    config: testConfig({ mirrors: [{ prefix: PREFIX, url: upstream.url, username: 'alice', password: USERS.alice }], mirror: { spooldirectory: path.join(dir, 'spool') } }),
  });
});

after(async () => {
  await mirror?.close();
  await upstream?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mirror of a Berth upstream with token auth', () => {
  test('pulls by tag and digest with a Bearer token from the upstream realm', async () => {
    const m = await getRaw(mirror!.r(), `/v2/${NAME}/manifests/v1`).set('Accept', MT.ociManifest).expect(200);
    assert.deepEqual(m.body, seed.image.manifest.data);
    assert.deepEqual((await getRaw(mirror!.r(), `/v2/${NAME}/blobs/${seed.image.layer.digest}`).expect(200)).body, seed.image.layer.data);
  });

  test("referrers are the upstream's (the referrer is not cached here), filtered by artifactType", async () => {
    const path = `/v2/${NAME}/referrers/${seed.image.manifest.digest}`;
    const all = await mirror!.r().get(path).expect(200).expect('Content-Type', MT.ociIndex);
    assert.deepEqual((all.body as { manifests: Array<{ digest: string }> }).manifests.map((d) => d.digest), [seed.artifact.digest]);
    const same = await mirror!.r().get(`${path}?artifactType=${encodeURIComponent(seed.artifactType)}`).expect(200).expect('OCI-Filters-Applied', 'artifactType');
    assert.equal((same.body as { manifests: unknown[] }).manifests.length, 1);
    const other = await mirror!.r().get(`${path}?artifactType=application%2Fx-other`).expect(200);
    assert.deepEqual((other.body as { manifests: unknown[] }).manifests, []);
    assert.deepEqual((await getRaw(mirror!.r(), `/v2/${NAME}/manifests/${seed.artifact.digest}`).expect(200)).body, seed.artifact.data);
  });

  test("tag lists are the upstream's, paged by it", async () => {
    const first = await mirror!.r().get(`/v2/${NAME}/tags/list?n=2`).expect(200);
    assert.deepEqual(first.body, { name: NAME, tags: ['list', 'multi'] });
    assert.equal(first.headers.link, `</v2/${NAME}/tags/list?n=2&last=multi>; rel="next"`);
    const rest = await mirror!.r().get(`/v2/${NAME}/tags/list?n=2&last=multi`).expect(200);
    assert.deepEqual(rest.body, { name: NAME, tags: ['v1'] });
    assert.equal(rest.headers.link, undefined);
  });
});
