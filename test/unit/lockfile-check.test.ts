import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTree } from '../helpers/daemon';
import { run } from '../helpers/exec';

// .ci/run falls back to this script when the registry does not answer `npm audit`.
const REPO_ROOT = path.resolve(__dirname, '../../..');
const SCRIPT = path.join(REPO_ROOT, '.ci/lockfile-check.js');
const INTEGRITY = `sha512-${'A'.repeat(86)}==`;

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  link?: boolean;
  hasInstallScript?: boolean;
}

describe('the offline lockfile check (.ci/lockfile-check.js)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp('/tmp/berth-lockfile-');
  });
  after(async () => {
    await removeTree(dir);
  });

  async function check(packages: Record<string, LockEntry>, lockfileVersion = 3) {
    const file = path.join(dir, `lock-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ name: 'x', lockfileVersion, packages: { '': { name: 'x' }, ...packages } }));
    return run(process.execPath, [SCRIPT, file], { allowFailure: true, timeoutMs: 30_000 });
  }

  it("passes the repository's own lockfile", async () => {
    const lock = JSON.parse(await readFile(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const result = await check(lock.packages);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /\d+ production packages checked, 0 problem/);
  });

  it('refuses production packages that bypass a registry integrity, and names each', async () => {
    const result = await check({
      'node_modules/from-git': { resolved: 'git+ssh://git@example.test/x.git#abc', integrity: INTEGRITY },
      'node_modules/from-http': { resolved: 'http://example.test/from-http-1.0.0.tgz', integrity: INTEGRITY },
      'node_modules/from-disk': { resolved: '../from-disk', link: true },
      'node_modules/unpinned': { version: '1.0.0' },
      'node_modules/a/node_modules/sha1-only': { version: '1.0.0', integrity: 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=' },
      'node_modules/postinstaller': { version: '1.0.0', integrity: INTEGRITY, hasInstallScript: true },
      'node_modules/fine': { version: '1.0.0', integrity: INTEGRITY },
      'node_modules/bcrypt': { version: '6.0.0', integrity: INTEGRITY, hasInstallScript: true },
    });
    assert.equal(result.code, 1, result.stdout);
    for (const name of ['from-git', 'from-http', 'from-disk', 'unpinned', 'sha1-only', 'postinstaller'])
      assert.match(result.stdout, new RegExp(`^lockfile: ${name}: `, 'm'), result.stdout);
    assert.doesNotMatch(result.stdout, /^lockfile: (fine|bcrypt):/m);
    assert.match(result.stdout, /8 production packages checked, 6 problem/);
  });

  it('leaves development-only packages alone: they never reach the image', async () => {
    const result = await check({
      'node_modules/fine': { version: '1.0.0', integrity: INTEGRITY },
      'node_modules/dev-tool': { resolved: 'git+https://example.test/t.git', dev: true, hasInstallScript: true },
    });
    assert.equal(result.code, 0, result.stdout);
  });

  it('refuses a lockfile from before npm 7 and one with no production package', async () => {
    const old = await check({ 'node_modules/fine': { version: '1.0.0', integrity: INTEGRITY } }, 1);
    assert.equal(old.code, 1);
    assert.match(old.stdout, /lockfileVersion 1/);
    const empty = await check({});
    assert.equal(empty.code, 1);
    assert.match(empty.stdout, /no production package/);
  });
});
