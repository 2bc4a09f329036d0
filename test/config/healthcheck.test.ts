import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { freePort } from '../helpers/ports';

// `berth healthcheck` is the image's HEALTHCHECK: it must find the server from the same
// configuration `serve` reads, and fail (exit 1, one line) whenever /healthz does not answer 200.
let dir: string;
let berth: BerthProcess;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-healthcheck-'));
  berth = await startBerthProcess({ env: { REGISTRY_STORAGE: 'inmemory' } });
});
after(async () => {
  await berth?.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** A server on 127.0.0.1 whose every answer is `handler`'s; closed after `use`. */
async function withServer(handler: http.RequestListener, use: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await use((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('berth healthcheck', () => {
  test('exits 0 when the server at http.addr (from the environment) answers /healthz', async () => {
    const r = await runBerth(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${berth.port}` } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^healthcheck: http://127\\.0\\.0\\.1:${berth.port}/healthz: ok$`, 'm'));
  });

  test('reads http.addr from --config as serve does, and probes loopback for a wildcard address', async () => {
    const file = path.join(dir, 'config.yml');
    await writeFile(file, `version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  addr: :${berth.port}\n`);
    const r = await runBerth(['healthcheck', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`http://127\\.0\\.0\\.1:${berth.port}/healthz: ok`));
  });

  test('exits 1 with one line naming the URL when nothing listens there', async () => {
    const port = await freePort();
    const r = await runBerth(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^healthcheck: http://127\\.0\\.0\\.1:${port}/healthz: .*ECONNREFUSED`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  test('exits 1 when /healthz answers anything but 200', async () => {
    await withServer(
      (_req, res) => res.writeHead(503).end('{}'),
      async (port) => {
        const r = await runBerth(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` } });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /: answered 503$/m);
      },
    );
  });

  test('gives up on a server that never answers, before Docker would kill the check', async () => {
    await withServer(
      () => undefined,
      async (port) => {
        const started = Date.now();
        const r = await runBerth(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` }, timeoutMs: 20_000 });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /no answer within 4000 ms/);
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      },
    );
  });

  test('refuses port 0, which names no server to probe', async () => {
    const r = await runBerth(['healthcheck'], { env: { REGISTRY_HTTP_ADDR: '127.0.0.1:0' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /port 0/);
  });

  test('takes no stray arguments', async () => {
    const r = await runBerth(['healthcheck', '--url', 'http://x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /healthcheck: /);
  });
});
