import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { MT, getRaw } from '../api/helpers';
import { USERS, authConfig, authFixture, basic, startAuthRegistry, type AuthFixture } from '../auth/helpers';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { seedUpstream, type Seeded } from './helpers';

/*
 * Auth around the mirror: local access control decides on the local name who may pull through it,
 * and the upstream's credentials reach neither clients nor logs, even when the upstream refuses them.
 */

let skipReason: string | undefined;
let fixture: AuthFixture | undefined;
let dist: DistributionProcess | undefined;
let seed: Seeded;
const WRONG = 'not-alices-upstream-password-xyzzy';

before(async () => {
  skipReason = await distributionSkipReason();
  if (skipReason) return;
  fixture = await authFixture();
  dist = await startDistribution({
    rootDirectory: path.join(fixture.dir, 'upstream'),
    extraYaml: ['auth:', '  htpasswd:', '    realm: upstream', `    path: ${JSON.stringify(fixture.htpasswd)}`].join('\n'),
    readyStatuses: [401],
  });
  seed = await seedUpstream(request.agent(dist.url).auth('alice', USERS.alice), 'team/app');
});

after(async () => {
  await dist?.stop();
  await fixture?.cleanup();
});

const mirrorTo = (password: string) => ({
  mirrors: [{ prefix: 'up.test', url: dist!.url, username: 'alice', password }],
  mirror: { spooldirectory: path.join(fixture!.dir, 'spool') },
});

describe('mirror auth', () => {
  test('local access control applies to the local name; upstream Basic credentials work and are never logged', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const config = authConfig(
      { htpasswd: { realm: 'berth', path: fixture!.htpasswd }, accesscontrol: { repositories: { 'up.test/team/**': { policies: [{ users: ['alice'], actions: ['pull'] }] } } } },
      mirrorTo(USERS.alice),
    );
    const berth = await startAuthRegistry(config);
    t.after(() => berth.close());
    const path = '/v2/up.test/team/app/manifests/v1';
    await request(berth.url).get(path).expect(401);
    await request(berth.url).get(path).set('Authorization', basic('bob', USERS.bob)).expect(403);
    const ok = await getRaw(request.agent(berth.url), path).set('Authorization', basic('alice', USERS.alice)).set('Accept', MT.ociManifest).expect(200);
    assert.deepEqual(ok.body, seed.image.manifest.data);
    const layer = await getRaw(request.agent(berth.url), `/v2/up.test/team/app/blobs/${seed.image.layer.digest}`).set('Authorization', basic('alice', USERS.alice)).expect(200);
    assert.deepEqual(layer.body, seed.image.layer.data);
    // Berth's own users share the file: only the upstream client sends alice's password from config.
    const upstreamBasic = Buffer.from(`alice:${USERS.alice}`).toString('base64');
    assert.ok(berth.logs().length > 0);
    assert.ok(!berth.logs().includes(USERS.alice) && !berth.logs().includes(upstreamBasic));
  });

  test('Basic mode, writes to a mirrored repository: 401 anonymous, 403 without write access, 405 UNSUPPORTED only for a writer', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const accesscontrol = {
      repositories: { 'up.test/**': { anonymouspolicy: ['pull'], policies: [{ users: ['alice'], actions: ['pull', 'push', 'delete'] }, { users: ['bob'], actions: ['pull'] }] } },
    } satisfies Parameters<typeof authConfig>[0]['accesscontrol'];
    const berth = await startAuthRegistry(authConfig({ htpasswd: { realm: 'berth', path: fixture!.htpasswd }, accesscontrol }, mirrorTo(USERS.alice)));
    t.after(() => berth.close());
    const repo = '/v2/up.test/team/app';
    const writes: Array<[string, string]> = [
      ['post', `${repo}/blobs/uploads/`],
      ['patch', `${repo}/blobs/uploads/an-upload-id`],
      ['put', `${repo}/manifests/v9`],
      ['delete', `${repo}/manifests/${seed.image.manifest.digest}`],
      ['delete', `${repo}/blobs/${seed.image.layer.digest}`],
      ['post', '/v2/team/app/blobs/uploads/?ns=up.test'],
    ];
    const code = (res: request.Response) => (res.body as { errors: Array<{ code: string }> }).errors[0].code;
    for (const [method, p] of writes) {
      const as = (authorization?: string) => {
        const r = request(berth.url)[method as 'post'](p);
        return authorization ? r.set('Authorization', authorization) : r;
      };
      assert.equal(code(await as().expect(401)), 'UNAUTHORIZED', `${method} ${p} anonymous`);
      assert.equal(code(await as(basic('bob', USERS.bob)).expect(403)), 'DENIED', `${method} ${p} as bob`);
      assert.equal(code(await as(basic('alice', USERS.alice)).expect(405)), 'UNSUPPORTED', `${method} ${p} as alice`);
    }
  });

  test('an upstream refusing the credentials is 502 UNAVAILABLE, and the password is in neither the answer nor the logs', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startAuthRegistry(authConfig({}, mirrorTo(WRONG)));
    t.after(() => berth.close());
    for (const p of ['/v2/up.test/team/app/manifests/v1', `/v2/up.test/team/app/blobs/${seed.image.layer.digest}`, '/v2/up.test/team/app/tags/list']) {
      const res = await request(berth.url).get(p).expect(502);
      assert.equal((res.body as { errors: Array<{ code: string }> }).errors[0].code, 'UNAVAILABLE');
      assert.ok(!JSON.stringify(res.headers).includes(WRONG) && !res.text.includes(WRONG));
    }
    const encoded = Buffer.from(`alice:${WRONG}`).toString('base64');
    assert.ok(!berth.logs().includes(WRONG) && !berth.logs().includes(encoded), 'the upstream password was logged');
  });
});
