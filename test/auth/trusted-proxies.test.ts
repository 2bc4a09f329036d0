import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { runBerth, startBerthProcess, type BerthProcess } from '../helpers/berth-process';

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

function records(logs: string): Array<Record<string, unknown>> {
  return logs
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A Basic-mode Berth that locks a client out after 2 failed logins; `proxies` is http.trustedproxies. */
async function start(proxies: string[] | undefined): Promise<{ berth: BerthProcess; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-proxies-'));
  await writeFile(join(dir, 'htpasswd'), `alice:${await bcrypt.hash('alice-pw', 4)}\n`);
  const env: Record<string, string> = {
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'),
    REGISTRY_AUTH_HTPASSWD_PATH: join(dir, 'htpasswd'),
    REGISTRY_AUTH_HTPASSWD_REALM: 'berth',
    REGISTRY_AUTH_RATELIMIT_MAXFAILURES: '2',
    REGISTRY_AUTH_RATELIMIT_WINDOW: '1m',
  };
  if (proxies) env.REGISTRY_HTTP_TRUSTEDPROXIES = JSON.stringify(proxies);
  return { berth: await startBerthProcess({ env }), dir };
}

function get(berth: BerthProcess, password: string, forwardedFor?: string, id?: string): Promise<Response> {
  const headers: Record<string, string> = { authorization: basic('alice', password) };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  if (id) headers['x-request-id'] = id;
  return fetch(`${berth.url}/v2/`, { headers });
}

test('behind a trusted proxy, one client locked out by failed logins does not lock out the others', { timeout: 30_000 }, async () => {
  const { berth, dir } = await start(['127.0.0.0/8']);
  try {
    for (let i = 0; i < 2; i++) assert.equal((await get(berth, 'wrong', '203.0.113.5')).status, 401);
    assert.equal((await get(berth, 'alice-pw', '203.0.113.5')).status, 429, 'the failing client is limited');
    // What the failing client writes to the left of the proxy's entry changes nothing: the proxy
    // appended the address it saw, and that is the one counted.
    assert.equal((await get(berth, 'alice-pw', '198.51.100.9, 203.0.113.5')).status, 429, 'a forged left entry dodged the limit');
    assert.equal((await get(berth, 'alice-pw', '203.0.113.6', 'other-client')).status, 200, 'another client behind the same proxy was locked out');
    // A chain of trusted proxies is walked to the first address that is not one.
    assert.equal((await get(berth, 'alice-pw', '203.0.113.5, 127.0.0.9')).status, 429);

    await new Promise((r) => setTimeout(r, 200));
    const line = records(berth.logs()).find((r) => r.reqId === 'other-client' && r.msg === 'request');
    assert.equal(line?.remote, '203.0.113.6', berth.logs());
    assert.equal(line?.proxy, '127.0.0.1');
  } finally {
    await berth.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('without http.trustedproxies X-Forwarded-For is ignored: a client cannot dodge the limit by writing it', { timeout: 30_000 }, async () => {
  const { berth, dir } = await start(undefined);
  try {
    for (let i = 0; i < 2; i++) assert.equal((await get(berth, 'wrong', `203.0.113.${i + 1}`)).status, 401);
    assert.equal((await get(berth, 'alice-pw', '203.0.113.99', 'forged')).status, 429);
    await new Promise((r) => setTimeout(r, 200));
    const line = records(berth.logs()).find((r) => r.reqId === 'forged' && r.msg === 'request');
    assert.equal(line?.remote, '127.0.0.1', berth.logs());
    assert.equal(line?.proxy, undefined);
  } finally {
    await berth.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an entry of http.trustedproxies that is not an address or CIDR stops start-up naming the key', { timeout: 30_000 }, async () => {
  for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0/8', 'fd00::/129']) {
    const r = await runBerth(['config', 'check'], { env: { REGISTRY_HTTP_TRUSTEDPROXIES: JSON.stringify(['127.0.0.1', bad]) } });
    assert.equal(r.code, 1, bad + r.stdout);
    assert.match(r.stderr, /http\.trustedproxies\.1 \(from REGISTRY_HTTP_TRUSTEDPROXIES\): must be an IP address or a CIDR/, bad);
  }
  const ok = await runBerth(['config', 'check'], { env: { REGISTRY_HTTP_TRUSTEDPROXIES: '["10.0.0.0/8", "fd00::/8", "192.0.2.7"]' } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /"trustedproxies": \[\s+"10\.0\.0\.0\/8",\s+"fd00::\/8",\s+"192\.0\.2\.7"\s+\]/);
});
