import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { MT, digestOf, pushBlob, randomBlob, unknownDigest } from '../api/helpers';
import { USERS, writeHtpasswd } from '../auth/helpers';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { UpstreamClient } from '../../src/mirror/upstream-client';
import { captureLogger, collect, rejectsWith, seedUpstream, type Seeded } from './helpers';

/*
 * The upstream client against CNCF Distribution 2.8 (Debian's docker-registry): one behind htpasswd
 * Basic auth, one open to anonymous pulls.
 */

let skipReason: string | undefined;
let work = '';
let basicDist: DistributionProcess | undefined;
let openDist: DistributionProcess | undefined;
let basicSeed: Seeded;
let openSeed: Seeded;
const big = randomBlob(8 * 1024 * 1024);

before(async () => {
  skipReason = await distributionSkipReason();
  if (skipReason) return;
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-upstream-dist-'));
  const htpasswd = path.join(work, 'htpasswd');
  await writeHtpasswd(htpasswd);
  basicDist = await startDistribution({
    rootDirectory: path.join(work, 'basic'),
    extraYaml: ['auth:', '  htpasswd:', '    realm: upstream-tests', `    path: ${JSON.stringify(htpasswd)}`].join('\n'),
    readyStatuses: [401],
  });
  openDist = await startDistribution({ rootDirectory: path.join(work, 'open') });
  const alice = request.agent(basicDist.url).auth('alice', USERS.alice);
  basicSeed = await seedUpstream(alice, 'team/app');
  await pushBlob(alice, 'team/app', big);
  openSeed = await seedUpstream(request.agent(openDist.url), 'library/nginx');
});

after(async () => {
  await basicDist?.stop();
  await openDist?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('upstream client: Distribution 2.8 with htpasswd', () => {
  test('with credentials: ping, manifests by tag and digest, an index, a Docker list, blobs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const client = new UpstreamClient({ url: basicDist!.url, username: 'alice', password: USERS.alice, logger: captureLogger().logger });
    t.after(() => client.close());
    assert.deepEqual(await client.ping(), { auth: 'basic' });
    const { image, index, list } = basicSeed;

    assert.deepEqual(await client.headManifest('team/app', 'v1'), { digest: image.manifest.digest, mediaType: MT.ociManifest, size: image.manifest.size });
    const byTag = await client.getManifest('team/app', 'v1');
    assert.deepEqual(byTag, { bytes: image.manifest.data, digest: image.manifest.digest, mediaType: MT.ociManifest, size: image.manifest.size });
    assert.deepEqual(await client.getManifest('team/app', image.manifest.digest), byTag);

    assert.deepEqual(await client.headManifest('team/app', 'multi'), { digest: index.digest, mediaType: MT.ociIndex, size: index.size });
    assert.deepEqual((await client.getManifest('team/app', 'multi')).bytes, index.data);
    assert.deepEqual(await client.headManifest('team/app', 'list'), { digest: list.digest, mediaType: MT.dockerList, size: list.size });
    assert.equal((await client.getManifest('team/app', list.digest)).mediaType, MT.dockerList);

    const layer = await client.getBlob('team/app', image.layer.digest);
    assert.equal(layer.size, image.layer.size);
    assert.deepEqual(await collect(layer.stream), image.layer.data);
  });

  test('a large blob streams with backpressure: an idle reader holds little, then gets every byte', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const client = new UpstreamClient({ url: basicDist!.url, username: 'alice', password: USERS.alice, logger: captureLogger().logger });
    t.after(() => client.close());
    const blob = await client.getBlob('team/app', big.digest);
    assert.equal(blob.size, big.size);
    await new Promise((r) => setTimeout(r, 300));
    // What waits in the stream's buffers; with backpressure the rest waits in the sockets.
    const buffered = blob.stream.readableLength + ((blob.stream as unknown as Partial<Writable>).writableLength ?? 0);
    assert.ok(buffered <= 1024 * 1024, `buffered ${buffered} bytes while nobody read`);
    assert.equal(digestOf(await collect(blob.stream)), big.digest);
  });

  test('what the upstream does not have: null on HEAD, not-found otherwise; no referrers API is "not supported"', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const client = new UpstreamClient({ url: basicDist!.url, username: 'alice', password: USERS.alice, logger: captureLogger().logger });
    t.after(() => client.close());
    assert.equal(await client.headManifest('team/app', 'nope'), null);
    assert.equal(await client.headManifest('team/nothing', 'v1'), null);
    assert.equal(await client.headManifest('team/app', unknownDigest()), null);
    const missing = await rejectsWith(client.getManifest('team/app', 'nope'), 'not-found');
    assert.equal(missing.code, 'MANIFEST_UNKNOWN');
    assert.equal((await rejectsWith(client.getBlob('team/app', unknownDigest()), 'not-found')).status, 404);
    // Distribution 2.8 predates the referrers API.
    assert.deepEqual(await client.getReferrers('team/app', basicSeed.image.manifest.digest), { supported: false });
  });

  test('anonymous or with a wrong password: unauthorized, and neither the password nor its Basic encoding is in errors or logs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const anonymous = new UpstreamClient({ url: basicDist!.url, logger: captureLogger().logger });
    t.after(() => anonymous.close());
    await rejectsWith(anonymous.ping(), 'unauthorized');
    await rejectsWith(anonymous.headManifest('team/app', 'v1'), 'unauthorized');

    const password = 'not-alices-password-xyzzy';
    const { logger, lines } = captureLogger();
    const wrong = new UpstreamClient({ url: basicDist!.url, username: 'alice', password, logger });
    t.after(() => wrong.close());
    const errors = [
      await rejectsWith(wrong.ping(), 'unauthorized'),
      await rejectsWith(wrong.getManifest('team/app', 'v1'), 'unauthorized'),
      await rejectsWith(wrong.getBlob('team/app', basicSeed.image.layer.digest), 'unauthorized'),
    ];
    const basic = Buffer.from(`alice:${password}`).toString('base64');
    assert.ok(lines().length > 0, 'the client logged its requests');
    for (const text of [...errors.map((e) => `${e.message} ${e.stack} ${JSON.stringify(e)}`), lines()]) {
      assert.ok(!text.includes(password), text);
      assert.ok(!text.includes(basic), text);
    }

    // Credentials in the URL's userinfo work the same and stay out of messages too.
    const inUrl = new URL(basicDist!.url);
    inUrl.username = 'alice';
    inUrl.password = USERS.alice;
    const userinfo = new UpstreamClient({ url: inUrl.href, logger });
    t.after(() => userinfo.close());
    assert.equal((await userinfo.getManifest('team/app', 'v1')).digest, basicSeed.image.manifest.digest);
    assert.ok(!userinfo.url.includes(USERS.alice));
    assert.ok(!(await rejectsWith(userinfo.getManifest('team/app', 'nope'), 'not-found')).message.includes(USERS.alice));
  });
});

describe('upstream client: Distribution 2.8 open to anonymous pulls', () => {
  test('ping says no auth; manifests and blobs need none', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const client = new UpstreamClient({ url: openDist!.url, logger: captureLogger().logger });
    t.after(() => client.close());
    assert.deepEqual(await client.ping(), { auth: 'none' });
    const { image, index } = openSeed;
    assert.deepEqual(await client.headManifest('library/nginx', image.manifest.digest), { digest: image.manifest.digest, mediaType: MT.ociManifest, size: image.manifest.size });
    assert.deepEqual((await client.getManifest('library/nginx', 'multi')).digest, index.digest);
    assert.deepEqual(await collect((await client.getBlob('library/nginx', image.config.digest)).stream), image.config.data);
    // Configured credentials an open registry never asks for are simply not sent.
    const withCreds = new UpstreamClient({ url: openDist!.url, username: 'someone', password: 'whatever', logger: captureLogger().logger });
    t.after(() => withCreds.close());
    assert.deepEqual(await withCreds.ping(), { auth: 'none' });
  });
});
