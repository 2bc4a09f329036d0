import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { MT, unknownDigest } from '../api/helpers';
import { SECRET, USERS, getToken, writeHtpasswd } from '../auth/helpers';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy';
import { UpstreamClient } from '../../src/mirror/upstream-client';
import { captureLogger, collect, rejectsWith, seedUpstream, type Seeded } from './helpers';

/*
 * The upstream client against a Berth process in token mode (its built-in Docker token server over
 * an htpasswd file), through a recording proxy so that the test can count token requests. The
 * realm Berth announces follows the Host the client used, so token requests pass the proxy too.
 */

let dir = '';
let berth: BerthProcess | undefined;
let proxy: RoundRobinProxy | undefined;
let pub: Seeded;
let priv: Seeded;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'berth-upstream-token-'));
  const htpasswd = path.join(dir, 'htpasswd');
  await writeHtpasswd(htpasswd);
  const config = path.join(dir, 'berth.yml');
  await writeFile(
    config,
    [
      'storage: {inmemory: {}}',
      `http: {secret: ${JSON.stringify(SECRET)}}`,
      'auth:',
      `  htpasswd: {path: ${JSON.stringify(htpasswd)}}`,
      '  token: {service: upstream-berth, issuer: berth}',
      '  ratelimit: {maxfailures: 1000}',
      '  accesscontrol:',
      '    repositories:',
      '      "public/**": {anonymouspolicy: [pull], policies: [{users: [alice], actions: [pull, push, delete]}]}',
      '      "private/**": {policies: [{users: [alice], actions: [pull, push, delete]}]}',
      '',
    ].join('\n'),
  );
  berth = await startBerthProcess({ args: ['--config', config] });
  proxy = await startRoundRobinProxy([berth.url]);
  const res = await getToken(berth.url, { user: 'alice', service: 'upstream-berth', scopes: ['repository:public/app:pull,push', 'repository:private/app:pull,push'] });
  assert.equal(res.status, 200);
  const token = String(res.body.token);
  const agent = request.agent(berth.url).set('Authorization', `Bearer ${token}`);
  pub = await seedUpstream(agent, 'public/app');
  priv = await seedUpstream(agent, 'private/app');
});

after(async () => {
  await proxy?.close();
  await berth?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function tokenRequests(): string[] {
  return proxy!.requests().filter((r) => r.url.startsWith('/auth/token')).map((r) => r.url);
}

describe('upstream client: Berth with its token server', () => {
  test('anonymous: a pull-scoped token per repository, cached over many calls until shortly before it expires', async (t) => {
    let offset = 0;
    const client = new UpstreamClient({ url: proxy!.url, logger: captureLogger().logger, now: () => Date.now() + offset });
    t.after(() => client.close());
    proxy!.reset();
    assert.deepEqual(await client.ping(), { auth: 'bearer' });
    const { image, index } = pub;
    assert.deepEqual(await client.headManifest('public/app', 'v1'), { digest: image.manifest.digest, mediaType: MT.ociManifest, size: image.manifest.size });
    assert.deepEqual((await client.getManifest('public/app', 'multi')).bytes, index.data);
    assert.deepEqual(await collect((await client.getBlob('public/app', image.layer.digest)).stream), image.layer.data);
    await Promise.all([client.headManifest('public/app', 'list'), client.headManifest('public/app', 'multi'), client.getManifest('public/app', 'v1')]);
    const scoped = tokenRequests().filter((u) => u.includes('scope='));
    assert.equal(scoped.length, 1, tokenRequests().join('\n'));
    const q = new URL(scoped[0], 'http://x').searchParams;
    assert.equal(q.get('service'), 'upstream-berth');
    assert.equal(q.get('scope'), 'repository:public/app:pull');

    // Berth's tokens live 5 minutes: at 4m49s the cached one is still used, at 4m51s it is not.
    offset = 289_000;
    await client.headManifest('public/app', 'v1');
    assert.equal(tokenRequests().filter((u) => u.includes('scope=')).length, 1);
    offset = 291_000;
    await client.headManifest('public/app', 'v1');
    assert.equal(tokenRequests().filter((u) => u.includes('scope=')).length, 2);
  });

  test('concurrent first calls share one discovery and one token request', async (t) => {
    const client = new UpstreamClient({ url: proxy!.url, logger: captureLogger().logger });
    t.after(() => client.close());
    proxy!.reset();
    const got = await Promise.all([
      client.headManifest('public/app', 'v1'),
      client.headManifest('public/app', 'multi'),
      client.getManifest('public/app', 'list'),
      client.getBlob('public/app', pub.image.config.digest).then((b) => collect(b.stream)),
    ]);
    assert.equal(got[0]?.digest, pub.image.manifest.digest);
    assert.deepEqual(got[3], pub.image.config.data);
    assert.equal(tokenRequests().length, 1, tokenRequests().join('\n'));
    assert.equal(proxy!.requests().filter((r) => r.url === '/v2/').length, 1);
  });

  test('anonymous: a private repository is unauthorized, after one token request (no retry loop)', async (t) => {
    const client = new UpstreamClient({ url: proxy!.url, logger: captureLogger().logger });
    t.after(() => client.close());
    proxy!.reset();
    const err = await rejectsWith(client.getManifest('private/app', 'v1'), 'unauthorized');
    assert.equal(err.status, 401);
    assert.equal(tokenRequests().filter((u) => u.includes('private')).length, 1, tokenRequests().join('\n'));
    assert.equal(proxy!.requests().filter((r) => r.url.includes('/manifests/')).length, 1);
  });

  test('with credentials: private content, and the OCI artifact among the referrers (filtered by artifactType)', async (t) => {
    const client = new UpstreamClient({ url: proxy!.url, username: 'alice', password: USERS.alice, logger: captureLogger().logger });
    t.after(() => client.close());
    const { image, index, artifact, artifactType } = priv;
    assert.deepEqual(await client.headManifest('private/app', 'multi'), { digest: index.digest, mediaType: MT.ociIndex, size: index.size });
    assert.deepEqual((await client.getManifest('private/app', artifact.digest)).bytes, artifact.data);
    assert.deepEqual(await collect((await client.getBlob('private/app', image.config.digest)).stream), image.config.data);

    const all = await client.getReferrers('private/app', image.manifest.digest);
    assert.ok(all.supported);
    assert.equal(all.index.mediaType, MT.ociIndex);
    assert.deepEqual(
      all.index.manifests.map((m) => [m.digest, m.artifactType]),
      [[artifact.digest, artifactType]],
    );
    const filtered = await client.getReferrers('private/app', image.manifest.digest, artifactType);
    assert.ok(filtered.supported && filtered.filtered && filtered.index.manifests.length === 1);
    const none = await client.getReferrers('private/app', image.manifest.digest, 'application/vnd.example.other');
    assert.ok(none.supported && none.index.manifests.length === 0);
    assert.equal(await client.headManifest('private/app', 'nope'), null);
  });

  test('a wrong password, a refused scope: typed errors, and no password or token in messages or logs', async (t) => {
    const password = 'definitely-wrong-password-plugh';
    const { logger, lines } = captureLogger();
    const wrong = new UpstreamClient({ url: proxy!.url, username: 'alice', password, logger });
    t.after(() => wrong.close());
    const errors = [await rejectsWith(wrong.ping(), 'unauthorized'), await rejectsWith(wrong.getManifest('public/app', 'v1'), 'unauthorized')];

    const bob = new UpstreamClient({ url: proxy!.url, username: 'bob', password: USERS.bob, logger });
    t.after(() => bob.close());
    // bob holds no rights on private/**: his token carries none, and Berth refuses the request.
    errors.push(await rejectsWith(bob.getManifest('private/app', 'v1'), 'unauthorized'));
    errors.push(await rejectsWith(bob.getBlob('public/app', unknownDigest()), 'not-found'));
    assert.equal((await bob.headManifest('public/app', 'v1'))?.digest, pub.image.manifest.digest);

    const text = [...errors.map((e) => `${e.message}\n${e.stack}\n${JSON.stringify(e)}`), lines()].join('\n');
    assert.match(lines(), /upstream token fetched/);
    for (const secret of [password, USERS.bob, Buffer.from(`alice:${password}`).toString('base64'), Buffer.from(`bob:${USERS.bob}`).toString('base64')])
      assert.ok(!text.includes(secret), `found a credential in:\n${text}`);
    // Berth's tokens are JWTs: their first segment always starts with eyJ ('{"').
    assert.ok(!text.includes('eyJ'), `found a token in:\n${text}`);
  });
});
