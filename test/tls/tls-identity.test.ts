import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { EventReceiver } from '../helpers/event-receiver';
import { createCa, issue, type Issued } from '../helpers/test-ca';
import { h2Connect, h2Request } from './h2-client';
import { eventually, httpsRequest, type TlsResponse } from './tls-client';

// http.tls.clientidentity: a verified client certificate names the user the access-control policy sees.

let dir: string;
let ca: Issued;
let ciBot: Issued;
const running: BerthProcess[] = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-mtls-id-'));
  ca = await createCa('identity root');
  const server = await issue(ca, 'registry');
  await writeFile(path.join(dir, 'server.crt'), server.certPem);
  await writeFile(path.join(dir, 'server.key'), server.keyPem);
  await writeFile(path.join(dir, 'ca.pem'), ca.certPem);
  await writeFile(path.join(dir, 'htpasswd'), '');
  ciBot = await issue(ca, 'ci-bot', { usage: 'client' });
});
after(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A Berth over mutual TLS whose policy lets ci-bot (and a SPIFFE id) push to ci/**, and nobody anything else. */
async function berthWith(opts: { identity?: string; token?: boolean; events?: string }): Promise<BerthProcess> {
  const config = {
    storage: { inmemory: {} },
    http: {
      tls: {
        certificate: path.join(dir, 'server.crt'),
        key: path.join(dir, 'server.key'),
        clientcas: [path.join(dir, 'ca.pem')],
        ...(opts.identity === undefined ? {} : { clientidentity: opts.identity }),
      },
    },
    auth: {
      htpasswd: { path: path.join(dir, 'htpasswd') },
      ...(opts.token ? { token: { service: 'berth' } } : {}),
      accesscontrol: {
        repositories: { 'ci/**': { policies: [{ users: ['ci-bot', 'spiffe://example.org/ci'], actions: ['pull', 'push'] }] } },
      },
    },
    ...(opts.events === undefined ? {} : { notifications: { endpoints: [{ name: 'receiver', url: opts.events, backoff: '10ms' }] } }),
  };
  const file = path.join(dir, `config-${running.length}.json`);
  await writeFile(file, JSON.stringify(config));
  const p = await startBerthProcess({ args: ['--config', file] });
  running.push(p);
  return p;
}

const BLOB = 'pushed by a machine\n';
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;

/** A monolithic blob upload to `repo` (POST with digest and body). */
function push(berth: BerthProcess, repo: string, client: Issued, headers: Record<string, string> = {}): Promise<TlsResponse> {
  return httpsRequest(`${berth.url}/v2/${repo}/blobs/uploads/?digest=${DIGEST}`, {
    method: 'POST',
    ca: ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
    headers: { 'Content-Type': 'application/octet-stream', ...headers },
    body: BLOB,
  });
}

function accessLines(berth: BerthProcess): Array<{ msg?: string; url?: string; user?: string; status?: number }> {
  return berth
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string })
    .filter((r) => r.msg === 'request');
}

function jwtPayload(token: string): { sub: string; access: Array<{ name: string; actions: string[] }> } {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as ReturnType<typeof jwtPayload>;
}

describe('http.tls.clientidentity: cn, with htpasswd (Basic) auth', () => {
  test('CN=ci-bot pushes where the policy grants ci-bot, is denied elsewhere, and is the user in the access log and the actor of events', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    after(() => receiver.stop());
    const berth = await berthWith({ identity: 'cn', events: receiver.url });
    const ok = await push(berth, 'ci/app', ciBot);
    assert.equal(ok.status, 201, ok.body);
    await receiver.waitFor((events) => events.some((e) => e.action === 'push' && e.target.repository === 'ci/app'));
    assert.deepEqual(receiver.events.find((e) => e.target.repository === 'ci/app')?.actor, { name: 'ci-bot' });
    const denied = await push(berth, 'other/app', ciBot);
    assert.equal(denied.status, 403, 'authenticated by its certificate, so denied rather than challenged');
    await eventually('the access log lines', () => accessLines(berth).length >= 2);
    const line = accessLines(berth).find((r) => r.url?.startsWith('/v2/ci/app/'));
    assert.equal(line?.user, 'ci-bot');
  });

  test('a header cannot claim the identity, and credentials sent with the certificate win', async () => {
    const berth = await berthWith({ identity: 'cn' });
    const stranger = await issue(ca, 'stranger', { usage: 'client' });
    const forged = await push(berth, 'ci/app', stranger, { 'X-Client-Cert-CN': 'ci-bot', 'X-Forwarded-User': 'ci-bot', 'X-SSL-Client-S-DN': 'CN=ci-bot' });
    assert.equal(forged.status, 403, 'stranger is itself, whatever the headers say');
    const wrongPassword = await push(berth, 'ci/app', ciBot, { Authorization: `Basic ${Buffer.from('ci-bot:guess').toString('base64')}` });
    assert.equal(wrongPassword.status, 401, 'a password that fails is not rescued by the certificate');
  });

  test('over HTTP/2 (ALPN h2) the certificate names the user as over HTTP/1.1', async () => {
    const berth = await berthWith({ identity: 'cn' });
    const session = await h2Connect(berth.url, { ca: ca.certPem, cert: ciBot.certPem, key: ciBot.keyPem });
    try {
      const post = (repo: string) =>
        h2Request(session, `/v2/${repo}/blobs/uploads/?digest=${DIGEST}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(BLOB)) },
          body: Buffer.from(BLOB),
        });
      assert.equal((await post('ci/h2')).status, 201);
      assert.equal((await post('other/h2')).status, 403);
    } finally {
      session.close();
    }
  });

  test('without the option the same certificate is anonymous', async () => {
    const berth = await berthWith({});
    const res = await push(berth, 'ci/app', ciBot);
    assert.equal(res.status, 401);
  });
});

describe('http.tls.clientidentity: a subject alternative name', () => {
  test('san-uri: the first URI SAN is the user; a certificate without one is anonymous, its CN unused', async () => {
    const berth = await berthWith({ identity: 'san-uri' });
    const workload = await issue(ca, 'not-a-policy-user', { usage: 'client', san: [{ type: 'dns', value: 'ci-bot' }, { type: 'url', value: 'spiffe://example.org/ci' }] });
    const ok = await push(berth, 'ci/app', workload);
    assert.equal(ok.status, 201, ok.body);
    assert.equal((await push(berth, 'other/app', workload)).status, 403);
    assert.equal((await push(berth, 'ci/app', ciBot)).status, 401, 'CN=ci-bot without a URI SAN is anonymous');
  });

  test('san-dns and san-email pick their own kind', async () => {
    const both = await issue(ca, 'someone', { usage: 'client', san: [{ type: 'email', value: 'ci-bot' }, { type: 'dns', value: 'ci-bot' }] });
    const dnsOnly = await issue(ca, 'ci-bot', { usage: 'client', san: [{ type: 'dns', value: 'build.example.org' }] });
    const dns = await berthWith({ identity: 'san-dns' });
    assert.equal((await push(dns, 'ci/app', both)).status, 201);
    assert.equal((await push(dns, 'ci/app', dnsOnly)).status, 403, 'build.example.org is a user without grants');
    const email = await berthWith({ identity: 'san-email' });
    assert.equal((await push(email, 'ci/app', both)).status, 201);
    assert.equal((await push(email, 'ci/app', dnsOnly)).status, 401, 'no email SAN: anonymous');
  });
});

describe('http.tls.clientidentity with the built-in token server', () => {
  test('an anonymous token request over a certificate gets a token for the certificate user; the API takes the token', async () => {
    const berth = await berthWith({ identity: 'cn', token: true });
    const tokenFor = async (repo: string, client: Issued) => {
      const res = await httpsRequest(`${berth.url}/auth/token?service=berth&scope=repository:${repo}:pull,push&offline_token=true`, { ca: ca.certPem, cert: client.certPem, key: client.keyPem });
      assert.equal(res.status, 200, res.body);
      return JSON.parse(res.body) as { token: string; refresh_token?: string };
    };
    const granted = await tokenFor('ci/app', ciBot);
    assert.equal(jwtPayload(granted.token).sub, 'ci-bot');
    assert.deepEqual(jwtPayload(granted.token).access, [{ type: 'repository', name: 'ci/app', actions: ['pull', 'push'] }]);
    assert.equal(granted.refresh_token, undefined, 'no refresh token: it would outlive the certificate check');
    assert.equal((await push(berth, 'ci/app', ciBot)).status, 401, 'token mode: the API itself still wants a token');
    assert.equal((await push(berth, 'ci/app', ciBot, { Authorization: `Bearer ${granted.token}` })).status, 201);
    assert.deepEqual(jwtPayload((await tokenFor('other/app', ciBot)).token).access, []);
  });

  test('without the option the token is anonymous', async () => {
    const berth = await berthWith({ token: true });
    const res = await httpsRequest(`${berth.url}/auth/token?service=berth&scope=repository:ci/app:pull,push`, { ca: ca.certPem, cert: ciBot.certPem, key: ciBot.keyPem });
    assert.equal(res.status, 200, res.body);
    assert.equal(jwtPayload((JSON.parse(res.body) as { token: string }).token).sub, '');
  });
});

describe('http.tls.clientidentity in config check', () => {
  /** The variables of a valid mTLS set-up with htpasswd, changed by `extra` (undefined: left out). */
  const env = (extra: Record<string, string | undefined>): Record<string, string> => {
    const all: Record<string, string | undefined> = {
      REGISTRY_STORAGE: 'inmemory',
      REGISTRY_HTTP_TLS_CERTIFICATE: path.join(dir, 'server.crt'),
      REGISTRY_HTTP_TLS_KEY: path.join(dir, 'server.key'),
      REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(dir, 'ca.pem')}]`,
      REGISTRY_AUTH_HTPASSWD_PATH: path.join(dir, 'htpasswd'),
      ...extra,
    };
    return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
  };

  test('accepted from REGISTRY_HTTP_TLS_CLIENTIDENTITY', async () => {
    const good = await runBerth(['config', 'check'], { env: env({ REGISTRY_HTTP_TLS_CLIENTIDENTITY: 'san-uri' }), cwd: dir });
    assert.equal(good.code, 0, good.stderr);
    assert.equal((JSON.parse(good.stdout) as { http: { tls: { clientidentity: string } } }).http.tls.clientidentity, 'san-uri');
  });

  test('refused: an unknown field, without clientcas, without auth, on the debug listener', async () => {
    const check = async (extra: Record<string, string | undefined>, why: RegExp) => {
      const r = await runBerth(['config', 'check'], { env: env(extra), cwd: dir });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, why);
    };
    await check({ REGISTRY_HTTP_TLS_CLIENTIDENTITY: 'dn' }, /http\.tls\.clientidentity \(from REGISTRY_HTTP_TLS_CLIENTIDENTITY\): .*cn, san-dns, san-email, san-uri/);
    await check({ REGISTRY_HTTP_TLS_CLIENTIDENTITY: 'cn', REGISTRY_HTTP_TLS_CLIENTCAS: '' }, /http\.tls\.clientidentity.*needs clientcas/);
    await check({ REGISTRY_HTTP_TLS_CLIENTIDENTITY: 'cn', REGISTRY_AUTH_HTPASSWD_PATH: undefined }, /http\.tls\.clientidentity.*auth\.htpasswd or the built-in token server/);
    await check(
      { REGISTRY_HTTP_DEBUG_ADDR: '127.0.0.1:5999', REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: path.join(dir, 'server.crt'), REGISTRY_HTTP_DEBUG_TLS_KEY: path.join(dir, 'server.key'), REGISTRY_HTTP_DEBUG_TLS_CLIENTCAS: `[${path.join(dir, 'ca.pem')}]`, REGISTRY_HTTP_DEBUG_TLS_CLIENTIDENTITY: 'cn' },
      /http\.debug\.tls\.clientidentity.*no access control/,
    );
  });
});
