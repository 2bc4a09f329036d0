import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { runBerth, type BerthProcess } from '../helpers/berth-process';
import { EventReceiver } from '../helpers/event-receiver';
import { OCI_MANIFEST, sha256 } from '../helpers/images';
import { assertStoreConsistent } from '../helpers/store-check';
import { at, finishUpload, imageManifest, pushMonolithic, putManifest, randomBlob, startUpload } from '../replicas/oci-http';
import { debugUrl, logLines, onNewConnection, sample, startGroup, until, workerOf, workerPids, workersOf } from './group';

const CHUNK = 16 * 1024;

interface SlowPatch {
  data: Buffer;
  /** Resolves with the answer, or with the error that cut the connection. */
  answer: Promise<{ status: number; location: string; reqId: string } | Error>;
}

/** A PATCH on a connection of its own whose body trickles in over `chunks` × `everyMs`. */
function slowPatch(base: string, location: string, chunks: number, everyMs: number): SlowPatch {
  const data = randomBytes(chunks * CHUNK);
  const answer = new Promise<{ status: number; location: string; reqId: string } | Error>((resolve) => {
    const req = http.request(at(base, location), { method: 'PATCH', agent: false, headers: { 'Content-Type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location!, reqId: res.headers['x-request-id'] as string }));
    });
    req.on('error', resolve);
    let sent = 0;
    const timer = setInterval(() => {
      if (req.destroyed) return clearInterval(timer);
      req.write(data.subarray(sent * CHUNK, (sent + 1) * CHUNK));
      if (++sent === chunks) {
        clearInterval(timer);
        req.end();
      }
    }, everyMs);
  });
  return { data, answer };
}

describe('a group of workers over its life', { timeout: 180_000 }, () => {
  let dir: string;
  let berth: BerthProcess | undefined;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-life-'));
  });
  afterEach(async () => {
    await berth?.stop('SIGTERM', 15_000);
    berth = undefined;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('kill -9 of a worker: requests on the other finish, the worker comes back, the store stays consistent', async () => {
    const root = path.join(dir, 'kill');
    berth = await startGroup(root);
    const group = berth;
    const name = 'workers/killed';
    const sessions = await Promise.all(Array.from({ length: 6 }, () => startUpload(group.url, name)));
    const patches = sessions.map((loc) => slowPatch(group.url, loc, 20, 100));
    await new Promise((r) => setTimeout(r, 500));
    const [victim] = workerPids(group);
    process.kill(victim, 'SIGKILL');

    const answers = await Promise.all(patches.map((p) => p.answer));
    const done = answers.flatMap((a, i) => (a instanceof Error ? [] : [{ ...a, data: patches[i].data }]));
    assert.ok(done.length > 0, 'the surviving worker finished its uploads');
    assert.ok(done.length < answers.length, 'the killed worker lost its own');
    await until('the primary to say the worker exited', () => logLines(group).some((l) => l.msg === 'worker exited: restarting it' && l.pid === victim));
    const killedSlot = logLines(group).find((l) => l.msg === 'worker exited: restarting it')!.slot as number;
    for (const d of done) {
      assert.equal(d.status, 202);
      assert.notEqual(await workerOf(group, d.reqId), killedSlot, 'only the surviving worker answered');
    }

    await until('the worker to listen again', () => logLines(group).some((l) => l.msg === 'worker listening again' && l.slot === killedSlot));
    assert.ok(!workerPids(group).includes(victim));
    const answers2 = await Promise.all(Array.from({ length: 8 }, () => onNewConnection(`${group.url}/v2/`)));
    assert.deepEqual([...(await workersOf(group, answers2))].sort(), [0, 1]);
    for (const d of done) assert.equal(await finishUpload(group.url, d.location, sha256(d.data)), sha256(d.data));
    assert.equal(await group.stop(), 0);
    await assertStoreConsistent(root, { crashed: true });
  });

  test('a worker that keeps dying is restarted with a growing delay, and the crash loop is logged', async () => {
    berth = await startGroup(path.join(dir, 'loop'));
    const group = berth;
    const exits = () => logLines(group).filter((l) => l.msg === 'worker exited: restarting it' || l.msg === 'worker crash loop: restarting it with a growing delay');
    for (let n = 1; n <= 3; n++) {
      // The newest child is the one forked last: after the first round, the restarted worker.
      const pids = workerPids(group);
      process.kill(pids[pids.length - 1], 'SIGKILL');
      await until(`exit ${n} to be logged`, () => exits().length === n);
      const slot = exits()[n - 1].slot;
      await until(`restart ${n}`, () => logLines(group).filter((l) => l.msg === 'worker listening again' && l.slot === slot).length === n);
    }
    const logged = exits().map((l) => ({ level: l.level, slot: l.slot, restartInMs: l.restartInMs, exitsInLastMinute: l.exitsInLastMinute }));
    const slot = logged[0].slot;
    assert.deepEqual(logged, [
      { level: 'warn', slot, restartInMs: 100, exitsInLastMinute: 1 },
      { level: 'warn', slot, restartInMs: 200, exitsInLastMinute: 2 },
      { level: 'error', slot, restartInMs: 400, exitsInLastMinute: 3 },
    ]);
  });

  test('a worker that does not confirm an invalidation in time is killed before the write is answered', async () => {
    berth = await startGroup(path.join(dir, 'silent'), 2, { REGISTRY_STORAGE_CACHE_TTL: '1h' });
    const group = berth;
    const name = 'workers/silent';
    const config = randomBlob(100);
    const layers = [randomBlob(500), randomBlob(500)];
    for (const b of [config, ...layers]) await pushMonolithic(group.url, name, b);
    await putManifest(group.url, name, 'latest', imageManifest(config, [layers[0]]));
    // One kept-alive connection: every request on it reaches the same worker.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const probe = await onNewConnection(`${group.url}/v2/`, { agent });
      const writer = await workerOf(group, probe.headers['x-request-id'] as string);
      const silent = logLines(group).find((l) => l.msg === 'worker listening' && l.worker !== writer)!;
      process.kill(silent.pid as number, 'SIGSTOP');
      const second = imageManifest(config, [layers[1]]);
      const started = Date.now();
      const put = await onNewConnection(`${group.url}/v2/${name}/manifests/latest`, { agent, method: 'PUT', body: second.bytes, headers: { 'Content-Type': OCI_MANIFEST } });
      const tookMs = Date.now() - started;
      assert.equal(put.status, 201);
      assert.ok(tookMs >= 1_900, `the write waited for the silent worker (${tookMs} ms)`);
      assert.ok(logLines(group).some((l) => l.msg === 'worker did not confirm a cache invalidation in time: killing it' && l.pid === silent.pid));
      assert.ok(!workerPids(group).includes(silent.pid as number), 'the silent worker is gone');
      await until('its replacement', () => logLines(group).some((l) => l.msg === 'worker listening again' && l.slot === silent.worker));
      const answers = await Promise.all(Array.from({ length: 8 }, () => onNewConnection(`${group.url}/v2/${name}/manifests/latest`, { headers: { Accept: OCI_MANIFEST } })));
      assert.deepEqual(new Set(answers.map((a) => a.headers['docker-content-digest'])), new Set([second.digest]));
    } finally {
      agent.destroy();
    }
  });

  test('the workers do not outlive a primary killed with SIGKILL', async () => {
    berth = await startGroup(path.join(dir, 'orphans'));
    const pids = workerPids(berth);
    assert.equal(pids.length, 2);
    await berth.stop('SIGKILL');
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until('the workers to exit', () => !pids.some(alive));
  });

  test('SIGTERM to the primary drains every worker: a request in flight finishes, then all exit 0', async () => {
    berth = await startGroup(path.join(dir, 'drain'));
    const group = berth;
    const loc = await startUpload(group.url, 'workers/drained');
    const patch = slowPatch(group.url, loc, 15, 100);
    await new Promise((r) => setTimeout(r, 300));
    const exited = group.stop('SIGTERM', 20_000);
    const answer = await patch.answer;
    assert.ok(!(answer instanceof Error), `the PATCH in flight was answered: ${answer instanceof Error ? answer.message : ""}`);
    assert.equal(answer.status, 202);
    assert.equal(await exited, 0);
    const stopped = logLines(group).filter((l) => l.msg === 'stopped').map((l) => l.worker);
    assert.deepEqual(stopped.sort(), [0, 1, 'primary'].sort());
  });

  test('scheduled garbage collection runs once per interval for the group, in one worker', async () => {
    berth = await startGroup(path.join(dir, 'gc'), 2, { REGISTRY_STORAGE_MAINTENANCE_GC_ENABLED: 'true', REGISTRY_STORAGE_MAINTENANCE_GC_INTERVAL: '200ms' });
    const group = berth;
    const runs = () => logLines(group).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('garbage collection'));
    await until('three collections', () => runs().length >= 3);
    assert.deepEqual(new Set(runs().map((l) => `${l.msg} by ${String(l.worker)}`)), new Set(['garbage collection finished by 0']));
    const metrics = (await onNewConnection(`${debugUrl(group)}/metrics`)).body.toString();
    assert.equal(sample(metrics, 'berth_gc_runs_total{result="skipped"}'), 0);
    assert.ok(sample(metrics, 'berth_gc_runs_total{result="ok"}') >= 3);
  });

  test('events recorded by every worker are delivered, once each, by the group', async () => {
    const receiver = new EventReceiver();
    await receiver.start();
    try {
      berth = await startGroup(path.join(dir, 'events'), 2, { REGISTRY_NOTIFICATIONS_ENDPOINTS: JSON.stringify([{ name: 'audit', url: receiver.url }]) });
      const group = berth;
      const name = 'workers/events';
      const config = randomBlob(100);
      const layer = randomBlob(500);
      for (const b of [config, layer]) await pushMonolithic(group.url, name, b);
      const manifest = imageManifest(config, [layer]);
      const tags = ['a', 'b', 'c', 'd', 'e', 'f'];
      const puts = [];
      for (const tag of tags)
        puts.push(await onNewConnection(`${group.url}/v2/${name}/manifests/${tag}`, { method: 'PUT', body: manifest.bytes, headers: { 'Content-Type': OCI_MANIFEST } }));
      assert.deepEqual(puts.map((p) => p.status), tags.map(() => 201));
      assert.deepEqual([...(await workersOf(group, puts))].sort(), [0, 1], 'both workers recorded pushes');
      const pushed = () => receiver.events.filter((e) => e.action === 'push' && e.target.tag !== undefined);
      await receiver.waitFor(() => pushed().length >= tags.length, 15_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(pushed().map((e) => e.target.tag).sort(), tags);
      assert.deepEqual(new Set(pushed().map((e) => e.request.id)), new Set(puts.map((p) => p.headers['x-request-id'])));
    } finally {
      await receiver.stop();
    }
  });

  test('a worker that cannot start stops the group with its reason and exit code 1', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const run = await runBerth(['serve'], {
        env: { REGISTRY_HTTP_WORKERS: '2', REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, 'taken') },
        timeoutMs: 20_000,
      });
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`http.addr: 127.0.0.1:${port} is already in use`));
      assert.match(run.stderr, /http\.workers: worker \d exited with code 1 before listening: not starting/);
    } finally {
      taken.close();
    }
  });
});
