import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, startBerthProcess, startupFailure, type BerthProcess, type BerthRun } from '../helpers/berth-process';
import { freePort } from '../helpers/ports';

let dir: string;
const running: BerthProcess[] = [];
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-process-'));
});
after(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function started(opts: Parameters<typeof startBerthProcess>[0]): Promise<BerthProcess> {
  const p = await startBerthProcess(opts);
  running.push(p);
  return p;
}


function run(args: string[], env: Record<string, string> = {}): Promise<BerthRun> {
  return runBerth(args, { env, cwd: dir });
}

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('berth process', () => {
  test('serves /v2/ on the configured address and root, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const root = path.join(dir, 'root-a', 'nested');
    const berth = await started({
      env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root },
    });
    assert.equal(berth.port, port);
    assert.equal(berth.url, `http://127.0.0.1:${port}`);
    const res = await get(`${berth.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.ok((await stat(root)).isDirectory(), 'the root directory is created');
    const listening = berth.logs().split('\n').filter((l) => l.includes('"listening"'));
    assert.equal(listening.length, 1, berth.logs());
    assert.equal(await berth.stop('SIGTERM'), 0);
  });

  test('port 0 binds a free port and reports it; a relative root is resolved against cwd', async () => {
    const berth = await started({ cwd: dir, env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: 'rel-root' } });
    assert.ok(berth.port > 0);
    assert.equal((await get(`${berth.url}/v2/`)).status, 200);
    assert.ok((await stat(path.join(dir, 'rel-root'))).isDirectory());
    assert.equal(await berth.stop('SIGINT'), 0);
  });

  test('SIGTERM lets a request in flight finish before exiting', async () => {
    const berth = await started({ env: { REGISTRY_STORAGE: 'inmemory' } });
    // A slow upload: the PATCH body trickles in while the signal arrives.
    const post = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.request(`${berth.url}/v2/drain/test/blobs/uploads/`, { method: 'POST', agent: false }, resolve).on('error', reject).end(),
    );
    post.resume();
    assert.equal(post.statusCode, 202);
    const location = new URL(String(post.headers.location), berth.url).toString();
    const patched = new Promise<number>((resolve, reject) => {
      const req = http.request(location, { method: 'PATCH', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('first part ');
      setTimeout(() => {
        berth.proc.kill('SIGTERM');
        setTimeout(() => req.end('second part'), 500);
      }, 200);
    });
    assert.equal(await patched, 202);
    // The first signal's exit, not the second one's (which would mean: stop now, exit 1).
    const code = berth.proc.exitCode ?? ((await once(berth.proc, 'exit')) as [number | null])[0];
    assert.equal(code, 0);
  });

  test('a listening port already in use exits 1 with one line naming http.addr', async () => {
    const first = await started({ env: { REGISTRY_STORAGE: 'inmemory' } });
    const r = await run(['serve'], { REGISTRY_HTTP_ADDR: `127.0.0.1:${first.port}`, REGISTRY_STORAGE: 'inmemory' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `http.addr: 127.0.0.1:${first.port} is already in use\n`);
    assert.equal(await first.stop(), 0);
  });

  test('an unusable root directory exits 1 naming storage.filesystem.rootdirectory', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = await run(['serve'], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(file, 'sub') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^storage\.filesystem\.rootdirectory: cannot use .*a-file\/sub: not a directory\n$/);
  });

  test('an unknown key in the file exits 1 with one line naming it, no stack', async () => {
    const file = path.join(dir, 'bad.yml');
    await writeFile(file, 'storage:\n  filesystem:\n    rootdir: /x\n');
    const r = await run(['serve', '--config', file], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'config: storage.filesystem.rootdir: unknown key\n');
    assert.equal(r.stdout, '');
  });

  test('startBerthProcess rejects with the output when the process exits first', async () => {
    assert.match((await startupFailure({ env: { REGISTRY_HTTP_ADDR: 'nonsense' } })).message, /exited with code 1[\s\S]*http\.addr/);
  });

  test('config check prints the effective config with secrets left out, exit 0', async () => {
    const r = await run(['config', 'check'], { REGISTRY_HTTP_SECRET: 'a-very-secret-value-123', REGISTRY_HTTP_ADDR: '127.0.0.1:5055' });
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as { http: Record<string, unknown> };
    assert.equal(printed.http.addr, '127.0.0.1:5055');
    assert.equal(printed.http.secret, undefined);
    assert.match(r.stderr, /^ {2}http\.secret$/m);
    assert.doesNotMatch(r.stdout, /a-very-secret-value/);
  });

  test('config check on a bad value exits 1 naming the key', async () => {
    const r = await run(['config', 'check'], { REGISTRY_HTTP_DRAINTIMEOUT: 'forever' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^config: http\.draintimeout \(from REGISTRY_HTTP_DRAINTIMEOUT\): invalid duration/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  test('an unknown command exits non-zero with usage', async () => {
    const r = await run(['frobnicate']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});
