import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { pushImage, repoName } from './helpers';
import { startRegistry, testConfig } from './server';

// This file compiles to dist/test/api/; the script stays in the source tree's docs/.
const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'docs', 'notification-receiver.mjs');

test("docs/notification-receiver.mjs prints each of Berth's events once", async () => {
  const proc = spawn(process.execPath, [SCRIPT, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      proc.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /listening on port (\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      proc.once('exit', (code) => reject(new Error(`receiver exited ${code}: ${err}`)));
    });
    const config = testConfig({ notifications: { endpoints: [{ name: 'example', url: `http://127.0.0.1:${port}/events`, ignore: { actions: ['pull'] } }] } });
    const registry = await startRegistry({ config, deps: { eventPollMs: 20 } });
    registry.app.startBackgroundTasks();
    const repo = repoName('example');
    try {
      const image = await pushImage(registry.r(), repo, 'v1');
      const deadline = Date.now() + 10_000;
      while (!out.includes('"tag":"v1"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => [l.action, l.repository, l.digest, l.tag]),
        [
          ['push', repo, image.config.digest, undefined],
          ['push', repo, image.layer.digest, undefined],
          ['push', repo, image.manifest.digest, 'v1'],
        ],
      );
    } finally {
      await registry.close();
    }
  } finally {
    proc.kill();
  }
});
