import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN_JS } from '../helpers/berth-process';
import { until, workerChildren } from './group';

const children = workerChildren;

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: it exited.
  }
}

interface Line {
  msg?: string;
  address?: string;
  worker?: number | string;
}

/**
 * A group answers /readyz with 200 only once every worker listens: until then it still gives up
 * (and exits) when one fails to start, and a prober that saw one worker ready would send traffic to
 * a process about to exit (the Docker image test saw a container answer /readyz, then vanish).
 */
describe('readiness of a group of workers', { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-ready-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const ending of ['the stopped worker goes on', 'the stopped worker is killed'] as const) {
    test(`is unready while one worker listens and another has not started (${ending})`, async () => {
      const proc = spawn(process.execPath, [MAIN_JS, 'serve'], {
        env: {
          PATH: process.env.PATH,
          REGISTRY_HTTP_WORKERS: '2',
          REGISTRY_HTTP_ADDR: '127.0.0.1:0',
          REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, ending.replace(/ /g, '-')),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      proc.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
      proc.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      const lines = () => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
      let stopped: number | undefined;
      try {
        // Stopped before it can load Berth (a worker takes well over 50 ms to listen).
        await until('the second worker to be forked', () => children(proc.pid!).length === 2, 10_000);
        stopped = Math.max(...children(proc.pid!));
        process.kill(stopped, 'SIGSTOP');
        await until('the other worker to listen', () => lines().some((l) => l.msg === 'worker listening'), 15_000);
        const address = lines().find((l) => l.msg === 'worker listening')!.address!;
        const readyz = `http://${address}/readyz`;
        assert.equal(lines().filter((l) => l.msg === 'worker listening').length, 1, output);
        const early = await fetch(readyz);
        assert.equal(early.status, 503, 'one worker of two listening is not ready');
        assert.match(((await early.json()) as { error: string }).error, /still starting/);
        assert.equal((await fetch(readyz.replace('/readyz', '/healthz'))).status, 200, 'but it is live');

        if (ending === 'the stopped worker goes on') {
          process.kill(stopped, 'SIGCONT');
          await until('the group to listen', () => lines().some((l) => l.msg === 'listening'), 15_000);
          // Either worker may answer: both must say ready now.
          for (let i = 0; i < 4; i++) assert.equal((await fetch(readyz, { headers: { Connection: 'close' } })).status, 200);
          proc.kill('SIGTERM');
          assert.equal(await exited, 0, output);
        } else {
          process.kill(stopped, 'SIGKILL');
          assert.notEqual(await exited, 0, 'the group gives up when a worker dies before listening');
          assert.match(output, /worker \d exited with SIGKILL before listening/);
        }
      } finally {
        // Gone already when the test got this far.
        if (stopped !== undefined) signalIfAlive(stopped, 'SIGCONT');
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
    });
  }
});
