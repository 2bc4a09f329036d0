import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTree } from '../helpers/daemon';
import { run } from '../helpers/exec';

const REPO_ROOT = path.resolve(__dirname, '../../..');

/**
 * `npm run bench` as npm runs it, on the repository's own package.json, in a scratch directory where
 * `tsc` is a stand-in (npm puts node_modules/.bin first on PATH) and dist/bench/run.js only records
 * that it ran: the real build takes a minute and cannot be made to fail without breaking the tree.
 */
describe('npm run bench (package.json script)', () => {
  let dir: string;
  const marker = () => path.join(dir, 'bench-ran');

  before(async () => {
    dir = await mkdtemp('/tmp/berth-bench-script-');
    await copyFile(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
    await mkdir(path.join(dir, 'node_modules/.bin'), { recursive: true });
    await mkdir(path.join(dir, 'dist/bench'), { recursive: true });
    await writeFile(path.join(dir, 'dist/bench/run.js'), `require('node:fs').writeFileSync(${JSON.stringify(marker())}, JSON.stringify(process.argv.slice(2)));\n`);
  });
  after(async () => {
    await removeTree(dir);
  });

  async function bench(tscExit: number) {
    const tsc = path.join(dir, 'node_modules/.bin/tsc');
    await writeFile(tsc, `#!/bin/sh\necho "src/x.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'."\nexit ${tscExit}\n`);
    await chmod(tsc, 0o755);
    await removeTree(marker());
    return run('npm', ['run', '--silent', 'bench', '--', '--quick'], { cwd: dir, allowFailure: true, timeoutMs: 60_000 });
  }

  it('stops with a non-zero exit, before running anything, when the build fails', async () => {
    const result = await bench(2);
    assert.notEqual(result.code, 0, result.stdout + result.stderr);
    assert.equal(existsSync(marker()), false, 'the bench ran after a failed build');
    assert.match(result.stdout + result.stderr, /error TS2322/);
  });

  it('runs the bench with its arguments when the build succeeds', async () => {
    const result = await bench(0);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(JSON.parse(await readFile(marker(), 'utf8')), ['--quick']);
  });
});
