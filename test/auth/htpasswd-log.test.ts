import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { runBerth, startBerthProcess } from '../helpers/berth-process';

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

/** What `htpasswd` writes without -B: -m (its default), -s, -d, -p; one bcrypt user that works. */
async function mixedFile(): Promise<string> {
  return [
    `alice:${await bcrypt.hash('alice-pw', 4)}`,
    'bob:$apr1$8Kz3dYqm$3nVd9bCzk6D5q0m5wYkGf/',
    'carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=',
    'erin:$apr1$Qw1lYq3v$7rH0oB2l8gQ7y5Yxv0nF11',
    'dave:rl4CzwS0uTHaI',
    'frank:not-a-hash at all',
    '',
  ].join('\n');
}

function records(logs: string): Array<Record<string, unknown>> {
  return logs
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function setup(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-htpasswd-log-'));
  await writeFile(join(dir, 'htpasswd'), await mixedFile());
  return {
    dir,
    env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'), REGISTRY_AUTH_HTPASSWD_PATH: join(dir, 'htpasswd'), REGISTRY_AUTH_HTPASSWD_REALM: 'berth' },
  };
}

test('htpasswd entries that are not bcrypt are warned of, by format, with the users skipped', { timeout: 30_000 }, async () => {
  const { dir, env } = await setup();
  const berth = await startBerthProcess({ env });
  try {
    const warnings = records(berth.logs()).filter((r) => r.level === 'warn' && String(r.msg).startsWith('htpasswd: skipped'));
    const byFormat = new Map(warnings.map((w) => [String(w.format), w]));
    assert.deepEqual(byFormat.get('MD5 ($apr1$, htpasswd -m, its default)')?.users, ['bob', 'erin']);
    assert.match(String(byFormat.get('MD5 ($apr1$, htpasswd -m, its default)')?.msg), /skipped 2 entries in format MD5 \(\$apr1\$.*only bcrypt is accepted \(htpasswd -B\)/);
    assert.deepEqual(byFormat.get('SHA-1 ({SHA}, htpasswd -s)')?.users, ['carol']);
    assert.deepEqual(byFormat.get('crypt (DES, htpasswd -d) or plain text')?.users, ['dave']);
    assert.deepEqual(byFormat.get('plain text or unknown (htpasswd -p)')?.users, ['frank']);
    assert.equal(warnings.length, 4, berth.logs());
    for (const w of warnings) assert.equal(w.path, env.REGISTRY_AUTH_HTPASSWD_PATH);
    assert.ok(!berth.logs().includes('alice-pw'));
    assert.equal((await fetch(`${berth.url}/v2/`, { headers: { authorization: basic('alice', 'alice-pw') } })).status, 200);
  } finally {
    await berth.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing htpasswd file stops start-up naming auth.htpasswd.path, in htpasswd and token mode', { timeout: 30_000 }, async () => {
  const { dir, env } = await setup();
  try {
    const missing = join(dir, 'nope');
    const basicMode = await runBerth(['serve'], { env: { ...env, REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: missing } });
    assert.equal(basicMode.code, 1);
    assert.match(basicMode.stderr, new RegExp(`auth\\.htpasswd\\.path: cannot read the htpasswd file: ENOENT: .*${missing}`));
    const tokenMode = await runBerth(['serve'], {
      env: { ...env, REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: missing, REGISTRY_AUTH_TOKEN_SERVICE: 'berth', REGISTRY_AUTH_TOKEN_ISSUER: 'berth' },
    });
    assert.equal(tokenMode.code, 1, tokenMode.stdout);
    assert.match(tokenMode.stderr, /auth\.htpasswd\.path: cannot read the htpasswd file: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an htpasswd file removed while running: an auth set-up failure in the log, a 500 that says so, back once restored', { timeout: 30_000 }, async () => {
  const { dir, env } = await setup();
  const berth = await startBerthProcess({ env });
  const path = env.REGISTRY_AUTH_HTPASSWD_PATH;
  const get = () => fetch(`${berth.url}/v2/`, { headers: { authorization: basic('alice', 'alice-pw'), 'X-Request-Id': 'gone-1' } });
  try {
    await rename(path, path + '.moved');
    const res = await get();
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      errors: [{ code: 'UNKNOWN', message: 'authentication is unavailable: the registry failed to load its auth configuration (see its log)' }],
    });
    await new Promise((r) => setTimeout(r, 200));
    const lines = records(berth.logs()).filter((r) => r.reqId === 'gone-1' && r.level === 'error');
    assert.equal(lines.length, 1, berth.logs());
    assert.match(String(lines[0].msg), /^auth set-up failed: auth\.htpasswd\.path: cannot read the htpasswd file: ENOENT/);
    assert.equal(lines[0].key, 'auth.htpasswd.path');
    assert.equal(lines[0].code, 'ENOENT');
    assert.ok(!berth.logs().includes('"msg":"request failed"'), 'logged as a generic request failure');
    // Every request fails the same way: the log says so once a minute, not once a request.
    for (let i = 0; i < 20; i++) assert.equal((await get()).status, 500);
    await new Promise((r) => setTimeout(r, 200));
    const all = records(berth.logs()).filter((r) => String(r.msg).startsWith('auth set-up failed'));
    assert.equal(all.length, 1, berth.logs());

    await rename(path + '.moved', path);
    assert.equal((await get()).status, 200);
  } finally {
    await berth.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
