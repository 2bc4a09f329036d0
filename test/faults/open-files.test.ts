import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerthProcess } from '../helpers/berth-process';
import { requireTools } from '../helpers/tools';
import { run } from '../helpers/exec';

interface Answer {
  status: number;
  retryAfter?: string;
  code?: string;
}

/** One request over `agent`, its body read to the end (and parsed when it is an error). */
function call(agent: http.Agent, url: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const answer: Answer = { status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] };
        try {
          if (answer.status >= 400 && method !== 'HEAD') answer.code = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { errors?: { code: string }[] }).errors?.[0]?.code;
          resolve(answer);
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function pushBlob(url: string, name: string, data: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const res = await fetch(`${url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
  assert.equal(res.status, 201);
  return digest;
}

const CONNECTIONS = 8;

test('too many open files: answers are 503 with Retry-After, never 500, and the registry recovers', { timeout: 90_000, skip: requireTools(['prlimit']) }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-emfile-'));
  const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_DEBUG_ADDR: '127.0.0.1:0' } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const pid = berth.proc.pid!;
  try {
    const name = 'emfile/test';
    const digests: string[] = [];
    for (let i = 0; i < 6; i++) digests.push(await pushBlob(berth.url, name, randomBytes(4 << 20)));
    // Every connection the load uses is open before the limit drops, so no accept() can fail.
    await Promise.all(Array.from({ length: CONNECTIONS }, () => call(agent, `${berth.url}/v2/`)));
    const open = (await readdir(`/proc/${pid}/fd`)).length;
    const soft = /^Max open files\s+(\d+)/m.exec(await readFile(`/proc/${pid}/limits`, 'utf8'))![1];
    // Only the soft limit drops (what open() checks): raising a hard limit back needs privileges.
    await run('prlimit', [`--pid=${pid}`, `--nofile=${open + 2}:`]);

    const answers: Answer[] = [];
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, worker) => {
        for (let i = 0; i < 25; i++) {
          const digest = digests[(worker + i) % digests.length];
          answers.push(await call(agent, `${berth.url}/v2/${name}/blobs/${digest}`, i % 3 === 2 ? 'HEAD' : 'GET'));
        }
      }),
    );
    const statuses = new Map<number, number>();
    for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    const summary = JSON.stringify([...statuses]);
    assert.deepEqual([...statuses.keys()].filter((s) => s !== 200 && s !== 503), [], summary);
    const refused = answers.filter((a) => a.status === 503);
    assert.ok(refused.length > 0, `the limit was never hit: ${summary}`);
    for (const a of refused) {
      assert.match(String(a.retryAfter), /^\d+$/, 'a 503 says when to retry');
      if (a.code !== undefined) assert.equal(a.code, 'UNAVAILABLE');
    }

    // Load drops: one request at a time fits under the same limit again.
    for (const digest of digests) assert.equal((await call(agent, `${berth.url}/v2/${name}/blobs/${digest}`)).status, 200);
    const deadline = Date.now() + 20_000;
    while ((await call(agent, `${berth.url}/readyz`)).status !== 200) {
      assert.ok(Date.now() < deadline, 'readiness did not come back once the load dropped');
      await new Promise((r) => setTimeout(r, 250));
    }

    await run('prlimit', [`--pid=${pid}`, `--nofile=${soft}:`]);
    assert.match(berth.logs(), /"code":"EMFILE"/);
    const line = berth.logs().split('\n').find((l) => l.includes('debug listener (metrics) ready'))!;
    const metrics = await (await fetch(`http://${(JSON.parse(line) as { address: string }).address}/metrics`)).text();
    assert.match(metrics, /^berth_storage_faults_total\{code="EMFILE"\} [1-9]/m);
  } finally {
    agent.destroy();
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});
