import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runBerth, startBerthProcess, startupFailure, type BerthProcess } from '../helpers/berth-process';

const SECRET = 'shared-secret-0123456789abcdef';

test('a second secret-less process on the same storage refuses to start; with a shared secret both run', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-shared-'));
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const first = await startBerthProcess({ env });
  try {
    assert.match((await startupFailure({ env })).message, /http\.secret: required: another Berth process/);
    // A crashed process's registration does not block the next start on this host.
    first.proc.kill('SIGKILL');
    await first.stop();
    const again = await startBerthProcess({ env });
    await again.stop();

    const a = await startBerthProcess({ env: { ...env, REGISTRY_HTTP_SECRET: SECRET } });
    const b = await startBerthProcess({ env: { ...env, REGISTRY_HTTP_SECRET: SECRET } });
    try {
      assert.equal((await fetch(`${a.url}/v2/`)).status, 200);
      assert.equal((await fetch(`${b.url}/v2/`)).status, 200);
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    await first.stop();
    await rm(root, { recursive: true, force: true });
  }
});

/** Runs node under its own host name, as a new container (or a pod on another node) would be. */
function onHost(name: string): string[] {
  return ['unshare', '--uts', 'sh', '-c', 'hostname "$1" && shift && exec "$@"', 'sh', name];
}

const canUnshare = (() => {
  try {
    execFileSync('unshare', ['--uts', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The pid of a child of `parent` whose command is `comm`, from /proc (no procps needed). */
async function childNamed(parent: number, comm: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== comm) continue;
    if (Number(stat.slice(close + 2).split(' ')[1]) === parent) return Number(entry);
  }
  return undefined;
}

/** Asserts that a process on `env` is refused; one that starts anyway is stopped, not leaked. */
async function assertRefused(env: Record<string, string>, why?: string): Promise<void> {
  let started: BerthProcess | undefined;
  try {
    started = await startBerthProcess({ env });
  } catch (err) {
    assert.match(String(err), REFUSED, why);
    return;
  }
  await started.stop();
  assert.fail(`started on a shared store${why ? `: ${why}` : ''}`);
}

const REFUSED = /http\.secret: required: another Berth process \(host (\S+), pid (\d+)\) is using the same storage/;

test('after a SIGKILL, a replacement on another host (a new container) starts at once: the lock went with the process', { timeout: 60_000, skip: !canUnshare && 'needs unshare --uts' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-restart-'));
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const old = await startBerthProcess({ env, prefix: onHost('berth-old') });
  try {
    old.proc.kill('SIGKILL');
    await old.stop();
    // The old heartbeat is seconds old, from a host that is not this one: only the lock can tell it is gone.
    const replacement = await startBerthProcess({ env, prefix: onHost('berth-new') });
    assert.equal((await fetch(`${replacement.url}/v2/`)).status, 200);
    assert.match(replacement.logs(), /"msg":"holding the storage lock"/);
    await replacement.stop();
  } finally {
    await old.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('two processes started at once on one root: one serves, the other is refused naming it', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-race-'));
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const started = await Promise.allSettled([startBerthProcess({ env }), startBerthProcess({ env })]);
  const up = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    assert.equal(up.length, 1, started.map((r) => (r.status === 'rejected' ? String(r.reason) : 'started')).join('\n'));
    const refused = started.find((r) => r.status === 'rejected')!;
    const m = REFUSED.exec(String(refused.reason));
    assert.ok(m, String(refused.reason));
    assert.equal(Number(m[2]), up[0].proc.pid);
  } finally {
    for (const b of up) await b.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('the lock holder killed alone: the server takes the lock again and still refuses a second process', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-holder-'));
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const first = await startBerthProcess({ env });
  try {
    const holder = await childNamed(first.proc.pid!, 'cat');
    assert.ok(holder, 'no lock holder child');
    process.kill(holder, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    while (!first.logs().includes('"msg":"storage lock taken again"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(first.logs(), /"msg":"storage lock lost: taking it again"/);
    assert.match(first.logs(), /"msg":"storage lock taken again"/);
    await assertRefused(env);
    assert.equal((await fetch(`${first.url}/v2/`)).status, 200);
  } finally {
    await first.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('where no lock can be had (no flock(1)), heartbeats decide, and each kind of process sees the other', { timeout: 90_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-nolock-'));
  const env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  const noFlock = { ...env, PATH: '/nonexistent' };
  let running: BerthProcess | undefined;
  try {
    running = await startBerthProcess({ env: noFlock });
    assert.match(running.logs(), /"reason":"flock\(1\) is not installed \(util-linux\)".*"msg":"no storage lock: using heartbeats only/);
    await assertRefused(env, 'a lock holder must respect a heartbeat without a lock');
    await assertRefused(noFlock, 'heartbeats alone refuse a second process');
    await running.stop();

    running = await startBerthProcess({ env });
    await assertRefused(noFlock, 'a process that cannot lock must see the holder');
  } finally {
    await running?.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('s3 storage without a secret stops start-up with a message naming http.secret', { timeout: 20_000 }, async () => {
  const err = await startupFailure({ env: { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_REGIONENDPOINT: 'http://127.0.0.1:9' } });
  assert.match(err.message, /http\.secret: required with s3 storage/);
});

test('s3 storage with the built-in token server needs no configured key: a generated one is shared through the bucket', async () => {
  const run = await runBerth(['config', 'check'], {
    env: {
      REGISTRY_STORAGE: 's3',
      REGISTRY_STORAGE_S3_BUCKET: 'b',
      REGISTRY_STORAGE_S3_REGIONENDPOINT: 'http://127.0.0.1:9',
      REGISTRY_HTTP_SECRET: SECRET,
      REGISTRY_AUTH_TOKEN_SERVICE: 'berth',
      REGISTRY_AUTH_TOKEN_ISSUER: 'berth',
    },
  });
  assert.equal(run.code, 0, run.stderr);
});
