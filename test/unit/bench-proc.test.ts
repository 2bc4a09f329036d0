import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { cpuSeconds, descendants } from '../../bench/proc';

/**
 * The bench's server CPU figures: Berth with `http.workers` is a primary whose workers are its child
 * processes, and their CPU is the server's too.
 */
describe('bench server CPU (proc.ts)', () => {
  // A parent that idles, and its child that burns 0.6 s of CPU (not of wall time: the machine may be
  // busy) and then idles. Its own process group, so that the child goes with it whatever happens.
  const parent = spawn(
    process.execPath,
    [
      '-e',
      `const c = require('node:child_process').spawn(process.execPath, ['-e', 'while (process.cpuUsage().user < 600000); console.log("done"); setInterval(() => {}, 1000)'], { stdio: 'inherit' });
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  after(() => {
    process.kill(-parent.pid!, 'SIGKILL');
  });

  it("counts the CPU of the processes below a server's pid", async () => {
    await new Promise<void>((resolve) => parent.stdout.once('data', () => resolve()));
    const children = await descendants(parent.pid!);
    assert.equal(children.length, 1, `children of ${parent.pid}: ${children.join(',')}`);
    const total = await cpuSeconds(parent.pid!);
    // The parent alone used far less than the child's busy loop (a node start is about 0.05 s).
    assert.ok(total >= 0.5, `cpuSeconds counted ${total} s`);
  });
});
