import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import request from 'supertest';
import type { ConfigInput } from '../../src/config/schema';
import { parseChallenges } from '../../src/mirror/challenge';
import { EventReceiver } from '../helpers/event-receiver';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { ACCEPT_ALL_MANIFESTS } from '../helpers/registry-client';
import { USERS, authConfig, authFixture, basic, pushImage, startAuthRegistry, tokenFor, type AuthFixture, type AuthRegistry } from '../auth/helpers';
import { seedUpstream, type Seeded } from './helpers';

/*
 * Berth in token mode (its own token server) in front of a mirror of docker.io: the local policy on
 * the local name (`docker.io/library/app`) decides who pulls through it, whatever name the client
 * sent (`?ns=docker.io`, the prefix, or the default mirror's bare `library/app`). The upstream has
 * its own user, whose password must reach no client, log or event.
 */

type Repositories = NonNullable<NonNullable<ConfigInput['auth']>['accesscontrol']>['repositories'];

const UPSTREAM_USER = 'mirror-bot';
const UPSTREAM_PASSWORD = 'upstream-only-password-q7Zx';
const UPSTREAM_BASIC = Buffer.from(`${UPSTREAM_USER}:${UPSTREAM_PASSWORD}`).toString('base64');

let skipReason: string | undefined;
let fixture: AuthFixture | undefined;
let dist: DistributionProcess | undefined;
let seed: Seeded;

before(async () => {
  skipReason = await distributionSkipReason();
  if (skipReason) return;
  fixture = await authFixture();
  const upstreamUsers = path.join(fixture.dir, 'upstream-htpasswd');
  await writeFile(upstreamUsers, `${UPSTREAM_USER}:${await bcrypt.hash(UPSTREAM_PASSWORD, 4)}\n`);
  dist = await startDistribution({
    rootDirectory: path.join(fixture.dir, 'upstream'),
    extraYaml: ['auth:', '  htpasswd:', '    realm: upstream', `    path: ${JSON.stringify(upstreamUsers)}`].join('\n'),
    readyStatuses: [401],
  });
  seed = await seedUpstream(request.agent(dist.url).auth(UPSTREAM_USER, UPSTREAM_PASSWORD), 'library/app');
});

after(async () => {
  await dist?.stop();
  await fixture?.cleanup();
});

/** alice may pull, push and delete everywhere; bob only pull docker.io/**; `library/**` is alice's private space. */
const PRIVATE_MIRROR: Repositories = {
  'docker.io/**': { policies: [{ users: ['alice'], actions: ['pull', 'push', 'delete'] }, { users: ['bob'], actions: ['pull'] }] },
  'library/**': { policies: [{ users: ['alice'], actions: ['pull', 'push', 'delete'] }] },
};
const OPEN_MIRROR: Repositories = { ...PRIVATE_MIRROR, 'docker.io/**': { ...PRIVATE_MIRROR['docker.io/**'], anonymouspolicy: ['pull'] } };

async function startBerth(repositories: Repositories, extra: ConfigInput = {}): Promise<AuthRegistry> {
  return startAuthRegistry(
    authConfig(
      { htpasswd: { realm: 'berth', path: fixture!.htpasswd }, token: {}, accesscontrol: { repositories } },
      {
        mirrors: [{ prefix: 'docker.io', url: dist!.url, username: UPSTREAM_USER, password: UPSTREAM_PASSWORD, default: true }],
        mirror: { spooldirectory: path.join(fixture!.dir, 'spool') },
        ...extra,
      },
    ),
  );
}

interface Answer {
  status: number;
  /** The challenge of the first answer, when it was 401. */
  challenge?: string;
  headers: Headers;
  body: Buffer;
}

const codeOf = (a: Answer) => (JSON.parse(a.body.toString('utf8')) as { errors: Array<{ code: string }> }).errors[0].code;

/**
 * A client as containerd is one: sends the request, and on a Bearer challenge asks the challenge's
 * realm for a token of exactly the challenge's scope (as `user`, else anonymously), then sends the
 * request again with it.
 */
async function followChallenge(url: string, path: string, user?: keyof typeof USERS, init: RequestInit = {}): Promise<Answer> {
  const send = async (authorization?: string) => {
    const res = await fetch(url + path, { ...init, headers: { Accept: ACCEPT_ALL_MANIFESTS, ...(authorization ? { authorization } : {}) } });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };
  const first = await send();
  if (first.status !== 401) return first;
  const challenge = first.headers.get('www-authenticate') ?? '';
  const [bearer] = parseChallenges(challenge);
  assert.equal(bearer.scheme, 'bearer', challenge);
  const q = new URLSearchParams({ service: bearer.params.service });
  for (const s of (bearer.params.scope ?? '').split(' ').filter(Boolean)) q.append('scope', s);
  const tokenRes = await fetch(`${bearer.params.realm}?${q.toString()}`, { headers: user ? { authorization: basic(user, USERS[user]) } : {} });
  assert.equal(tokenRes.status, 200, `token for ${challenge}`);
  const { token } = (await tokenRes.json()) as { token: string };
  return { ...(await send(`Bearer ${token}`)), challenge };
}

const scopeOf = (challenge: string | undefined) => parseChallenges(challenge ?? '')[0]?.params.scope;

describe('mirror behind token auth', () => {
  test('?ns=docker.io: the challenge names the local name, whose token pulls; anonymous and users without the policy are refused', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth(PRIVATE_MIRROR);
    t.after(() => berth.close());
    const manifest = '/v2/library/app/manifests/v1?ns=docker.io';
    const alice = await followChallenge(berth.url, manifest, 'alice');
    assert.equal(scopeOf(alice.challenge), 'repository:docker.io/library/app:pull');
    assert.equal(alice.status, 200, alice.body.toString('utf8'));
    assert.deepEqual(alice.body, seed.image.manifest.data);
    assert.equal(alice.headers.get('oci-namespace'), 'docker.io');
    const blob = await followChallenge(berth.url, `/v2/library/app/blobs/${seed.image.layer.digest}?ns=docker.io`, 'alice');
    assert.equal(blob.status, 200);
    assert.deepEqual(blob.body, seed.image.layer.data);
    for (const who of [undefined, 'carol'] as const) {
      const refused = await followChallenge(berth.url, manifest, who);
      assert.equal(refused.status, 401, `${who ?? 'anonymous'} pulled through the private mirror`);
      assert.equal(codeOf(refused), 'UNAUTHORIZED');
    }
  });

  test('anonymous pull allowed for docker.io/** by policy: pulls through ?ns= and the prefix without credentials', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth(OPEN_MIRROR);
    t.after(() => berth.close());
    for (const p of ['/v2/library/app/manifests/v1?ns=docker.io', '/v2/docker.io/library/app/manifests/v1']) {
      const anonymous = await followChallenge(berth.url, p);
      assert.equal(anonymous.status, 200, `${p}: ${anonymous.body.toString('utf8')}`);
      assert.deepEqual(anonymous.body, seed.image.manifest.data);
    }
  });

  test('writes to a mirrored repository: 401 before authentication, 405 UNSUPPORTED only for a client allowed to write', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth(OPEN_MIRROR);
    t.after(() => berth.close());
    const writes: Array<[string, string]> = [];
    for (const [name, ns] of [['docker.io/library/app', ''], ['library/app', '?ns=docker.io']]) {
      writes.push(
        ['PUT', `/v2/${name}/manifests/v2${ns}`],
        ['POST', `/v2/${name}/blobs/uploads/${ns}`],
        ['DELETE', `/v2/${name}/manifests/${seed.image.manifest.digest}${ns}`],
        ['DELETE', `/v2/${name}/blobs/${seed.image.layer.digest}${ns}`],
      );
    }
    for (const [method, p] of writes) {
      const init: RequestInit = { method, ...(method === 'PUT' ? { body: seed.image.manifest.data } : {}) };
      // bob may pull docker.io/** but not write: his token lacks the scope and he is challenged again.
      for (const who of [undefined, 'bob'] as const) {
        const refused = await followChallenge(berth.url, p, who, init);
        assert.equal(refused.status, 401, `${method} ${p} as ${who ?? 'anonymous'}: ${refused.body.toString('utf8')}`);
        assert.equal(codeOf(refused), 'UNAUTHORIZED');
      }
      const alice = await followChallenge(berth.url, p, 'alice', init);
      assert.equal(alice.status, 405, `${method} ${p} as alice: ${alice.body.toString('utf8')}`);
      assert.equal(codeOf(alice), 'UNSUPPORTED');
    }
  });

  test('the default mirror: a name with no local repository comes from the mirror, for whom the policy on the local name lets pull', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth(OPEN_MIRROR);
    t.after(() => berth.close());
    const anonymous = await followChallenge(berth.url, '/v2/library/app/manifests/v1');
    assert.equal(scopeOf(anonymous.challenge), 'repository:docker.io/library/app:pull');
    assert.equal(anonymous.status, 200, anonymous.body.toString('utf8'));
    assert.deepEqual(anonymous.body, seed.image.manifest.data);
  });

  test("a token for the name the client pulls covers the mirror's local name it is served under, as the policy on that name allows (docker ignores the challenge's scope)", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth(PRIVATE_MIRROR);
    t.after(() => berth.close());
    // The default mirror's `library/app`, and Docker Hub's shorthand under the prefix: both are docker.io/library/app here.
    for (const name of ['library/app', 'docker.io/app']) {
      for (const [who, status] of [[undefined, 401], ['carol', 401], ['bob', 200]] as const) {
        const token = await tokenFor(berth.url, who, [`repository:${name}:pull`]);
        const res = await fetch(`${berth.url}/v2/${name}/manifests/v1`, { headers: { authorization: `Bearer ${token}`, Accept: ACCEPT_ALL_MANIFESTS } });
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(res.status, status, `${name} as ${who ?? 'anonymous'}: ${body.toString('utf8')}`);
        if (status === 200) assert.deepEqual(body, seed.image.manifest.data);
      }
    }
  });

  test('the default mirror: a private local repository of the same name stays local (no dependency confusion)', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const berth = await startBerth(OPEN_MIRROR);
    t.after(() => berth.close());
    const pushed = await pushImage(berth.url, 'library/app', 'v1', `Bearer ${await tokenFor(berth.url, 'alice', ['repository:library/app:pull,push'])}`);
    assert.equal(pushed.status, 201);
    const manifest = '/v2/library/app/manifests/v1';
    for (const who of [undefined, 'bob'] as const) {
      const refused = await followChallenge(berth.url, manifest, who);
      assert.equal(scopeOf(refused.challenge), 'repository:library/app:pull');
      assert.equal(refused.status, 401, `${who ?? 'anonymous'} was served ${refused.body.toString('utf8')}`);
      // Not even a token that opens the mirror's copy serves the upstream's repository instead.
      const mirrorToken = await tokenFor(berth.url, who, ['repository:docker.io/library/app:pull', 'repository:library/app:pull']);
      const res = await fetch(berth.url + manifest, { headers: { authorization: `Bearer ${mirrorToken}`, Accept: ACCEPT_ALL_MANIFESTS } });
      await res.arrayBuffer();
      assert.equal(res.status, 401);
    }
    const alice = await followChallenge(berth.url, manifest, 'alice');
    assert.equal(alice.status, 200);
    assert.notDeepEqual(alice.body, seed.image.manifest.data);
    assert.equal((JSON.parse(alice.body.toString('utf8')) as { layers: Array<{ digest: string }> }).layers[0].digest, pushed.blob, 'alice got the local image');
  });

  test("the upstream's credentials appear in no response, log line or event", async (t) => {
    if (skipReason) return t.skip(skipReason);
    const receiver = new EventReceiver();
    await receiver.start();
    t.after(() => receiver.stop());
    const berth = await startBerth(OPEN_MIRROR, { notifications: { endpoints: [{ name: 'receiver', url: receiver.url, backoff: '10ms' }] } });
    t.after(() => berth.close());
    berth.app.startBackgroundTasks();
    const answers: Answer[] = [];
    for (const p of [
      '/v2/docker.io/library/app/manifests/v1',
      '/v2/library/app/manifests/multi?ns=docker.io',
      `/v2/library/app/blobs/${seed.image.layer.digest}`,
      '/v2/docker.io/library/app/tags/list',
      `/v2/docker.io/library/app/referrers/${seed.image.manifest.digest}`,
      '/v2/docker.io/library/missing/manifests/v1',
    ])
      for (const user of [undefined, 'alice'] as const) answers.push(await followChallenge(berth.url, p, user));
    assert.ok(answers.some((a) => a.status === 200) && answers.some((a) => a.status === 404));
    for (const a of answers) {
      const seen = JSON.stringify([...a.headers]) + a.body.toString('latin1');
      assert.ok(!seen.includes(UPSTREAM_PASSWORD) && !seen.includes(UPSTREAM_BASIC) && !seen.includes(UPSTREAM_USER), `a response carried the upstream's credentials: ${seen.slice(0, 500)}`);
    }
    const deadline = Date.now() + 15_000;
    while (!receiver.events.some((e) => e.action === 'pull' && e.target.repository === 'docker.io/library/app' && e.target.digest === seed.image.layer.digest)) {
      assert.ok(Date.now() < deadline, `no pull events arrived: ${JSON.stringify(receiver.events)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = JSON.stringify(receiver.deliveries);
    assert.ok(!events.includes(UPSTREAM_PASSWORD) && !events.includes(UPSTREAM_BASIC) && !events.includes(UPSTREAM_USER), "an event carried the upstream's credentials");
    const logs = berth.logs();
    assert.match(logs, /"msg":"request"/, 'the access log was written');
    assert.ok(!logs.includes(UPSTREAM_PASSWORD) && !logs.includes(UPSTREAM_BASIC), "the logs carry the upstream's password");
  });
});
