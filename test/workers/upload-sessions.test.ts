import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthProcess } from '../helpers/berth-process';
import { at, randomBlob, repoName, startUpload, uploadStatus } from '../replicas/oci-http';
import { logLines, onNewConnection, startGroup, until, workerOf } from './group';

interface Pinned {
  agent: http.Agent;
  slot: number;
  pid: number;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Without http.secret only the group can reach its upload sessions, and its primary holds them for
 * one request at a time (docs/architecture.md, "Uploads"): requests on two workers exclude each
 * other without a lease in storage, and a worker that dies frees what it held at once.
 */
describe('http.workers = 2 without http.secret: upload sessions held by the primary', { timeout: 120_000 }, () => {
  let dir: string;
  let berth: BerthProcess;
  const agents: http.Agent[] = [];
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-worker-sessions-'));
    berth = await startGroup(dir, 2);
  });
  after(async () => {
    for (const a of agents) a.destroy();
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A kept connection and the worker that serves it. */
  async function pin(): Promise<Pinned> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const res = await onNewConnection(`${berth.url}/v2/`, { agent });
    const reqId = res.headers['x-request-id'] as string;
    const slot = await workerOf(berth, reqId);
    // The last start of that slot (a killed worker's successor logs again).
    const line = logLines(berth).findLast((l) => l.msg === 'worker listening' && l.worker === slot);
    assert.ok(line, `worker ${slot} logged its start`);
    return { agent, slot, pid: line.pid as number };
  }

  /** Connections to each of the two workers. */
  async function pinBoth(): Promise<[Pinned, Pinned]> {
    const a = await pin();
    for (let i = 0; i < 8; i++) {
      const b = await pin();
      if (b.slot !== a.slot) return [a, b];
    }
    assert.fail('no connection reached the other worker');
  }

  /** A PATCH streamed on `via` that has sent `first` (stored); `finish` sends `rest` and ends it. */
  async function streaming(via: Pinned, location: string, first: Buffer, storedBefore: number) {
    let answered!: (r: { status: number; body: string } | Error) => void;
    const answer = new Promise<{ status: number; body: string } | Error>((r) => (answered = r));
    const req = http.request(at(berth.url, location), { method: 'PATCH', agent: via.agent, headers: { 'Content-Type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => answered({ status: res.statusCode!, body }));
    });
    req.on('error', (err) => answered(err));
    req.write(first);
    await until('the first part is stored', async () => (await uploadStatus(berth.url, location)) === `0-${storedBefore + first.length - 1}`);
    return { finish: (rest: Buffer) => (req.end(rest), answer), answer };
  }

  const put = (via: Pinned, location: string, digest: string) => {
    const u = new URL(at(berth.url, location));
    u.searchParams.set('digest', digest);
    return onNewConnection(u.href, { method: 'PUT', agent: via.agent, headers: { 'Content-Length': '0' } });
  };

  test('a PUT on one worker while a PATCH streams on the other waits, is refused with the Range, and the session goes on', async () => {
    const [a, b] = await pinBoth();
    const name = repoName('sessions');
    const [first, rest] = [randomBlob(100_000).data, randomBlob(100_000).data];
    const location = await startUpload(berth.url, name);
    const patch = await streaming(a, location, first, 0);
    const refused = await put(b, location, sha256(first));
    assert.equal(refused.status, 416, refused.body.toString());
    assert.equal(refused.headers.range, `0-${first.length - 1}`);
    const patched = await patch.finish(rest);
    if (patched instanceof Error) throw patched;
    assert.equal(patched.status, 202, patched.body);
    const all = Buffer.concat([first, rest]);
    const done = await put(b, location, sha256(all));
    assert.equal(done.status, 201, done.body.toString());
    const got = await onNewConnection(`${berth.url}/v2/${name}/blobs/${sha256(all)}`);
    assert.equal(sha256(got.body), sha256(all));
  });

  test('a worker SIGKILLed while it streams a PATCH frees the session at once: the other worker commits what it stored', async () => {
    const [a, b] = await pinBoth();
    const name = repoName('sessions');
    const first = randomBlob(100_000).data;
    const location = await startUpload(berth.url, name);
    const patch = await streaming(a, location, first, 0);
    process.kill(a.pid, 'SIGKILL');
    assert.ok((await patch.answer) instanceof Error, 'the killed worker answered');
    const t0 = Date.now();
    const done = await put(b, location, sha256(first));
    assert.equal(done.status, 201, done.body.toString());
    // A lease in storage would have held the session for its 30 s ttl, and the PUT been refused after 10 s.
    assert.ok(Date.now() - t0 < 5_000, `the commit waited ${Date.now() - t0} ms`);
  });
});
