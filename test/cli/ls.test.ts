import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeHtpasswd, USERS } from '../auth/helpers';
import { runBerth, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { imageManifest, pushMonolithic, putManifest, randomBlob } from '../durability/push-client';

const SECRET = 'ls-test-secret-0123456789abcdef';
/** More than one page (1000) of repositories: the listing must follow the pages. */
const EMPTY_REPOSITORIES = 1002;

interface TagRow {
  tag: string;
  digest: string | null;
  size?: number;
  pushed: string | null;
  mediaType?: string;
}

/**
 * `berth ls` on a store (the same --config as serve) and on a running registry in token mode:
 * repositories, a repository's tags with digest, size and push time, --json, and pages.
 */
describe('berth ls', { timeout: 180_000 }, () => {
  let dir: string;
  let config: string;
  let tokenConfig: string;
  let image: { digest: string; size: number };
  let pushedBetween: [number, number];
  let registry: BerthProcess;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-ls-'));
    const root = path.join(dir, 'store');
    config = path.join(dir, 'config.yml');
    await writeFile(config, `storage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  secret: ${SECRET}\n`);
    // Pushed through an open Berth on the store, which the token-mode one serves next.
    const open = await startBerthProcess({ args: ['--config', config] });
    try {
      const cfg = randomBlob(200, 300);
      const layer = randomBlob(3000, 4000);
      const start = Date.now();
      const manifest = imageManifest({ digest: await pushMonolithic(open.url, 'team/app', cfg), size: cfg.length }, [{ digest: await pushMonolithic(open.url, 'team/app', layer), size: layer.length }]);
      await putManifest(open.url, 'team/app', '1.0', manifest);
      image = { digest: await putManifest(open.url, 'team/app', 'latest', manifest), size: manifest.length + cfg.length + layer.length };
      pushedBetween = [start - 2000, Date.now() + 2000];
      await pushMonolithic(open.url, 'base', randomBlob(10, 20));
    } finally {
      await open.stop();
    }
    for (let i = 0; i < EMPTY_REPOSITORIES; i++) await mkdir(path.join(root, 'docker/registry/v2/repositories/many', `r${String(i).padStart(4, '0')}`, '_layers'), { recursive: true });
    const htpasswd = path.join(dir, 'htpasswd');
    await writeHtpasswd(htpasswd);
    tokenConfig = path.join(dir, 'token.yml');
    await writeFile(
      tokenConfig,
      [
        `storage: {filesystem: {rootdirectory: ${JSON.stringify(root)}}}`,
        `http: {secret: ${JSON.stringify(SECRET)}}`,
        'auth:',
        `  htpasswd: {path: ${JSON.stringify(htpasswd)}}`,
        '  token: {service: berth, issuer: berth}',
        '  accesscontrol:',
        '    catalog: {users: [alice]}',
        '    repositories:',
        '      "**": {policies: [{users: [alice], actions: [pull]}]}',
        '',
      ].join('\n'),
    );
    registry = await startBerthProcess({ args: ['--config', tokenConfig] });
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const fromStore = (...args: string[]) => runBerth(['ls', ...args, '--config', config], { cwd: dir, timeoutMs: 60_000 });
  const fromRegistry = (...args: string[]) => runBerth(['ls', ...args, '--registry', registry.url, '--user', 'alice', '--password', USERS.alice], { timeoutMs: 60_000 });

  test('repositories, every page of them, from the store and from the registry', async () => {
    for (const r of [await fromStore(), await fromRegistry()]) {
      assert.equal(r.code, 0, r.stderr);
      const names = r.stdout.trimEnd().split('\n');
      assert.equal(names.length, EMPTY_REPOSITORIES + 2, r.stdout.slice(-300));
      assert.deepEqual([names[0], names.at(-1)], ['base', 'team/app']);
      assert.equal(names.filter((n) => n.startsWith('many/')).length, EMPTY_REPOSITORIES);
    }
    const json = await fromStore('--json');
    assert.equal((JSON.parse(json.stdout) as { repositories: string[] }).repositories.length, EMPTY_REPOSITORIES + 2);
  });

  test("a repository's tags with digest, size and push time (--json); the table for people", async () => {
    const store = await fromStore('team/app', '--json');
    assert.equal(store.code, 0, store.stderr);
    const rows = (JSON.parse(store.stdout) as { repository: string; tags: TagRow[] }).tags;
    assert.deepEqual(rows.map((t) => [t.tag, t.digest, t.size]), [['1.0', image.digest, image.size], ['latest', image.digest, image.size]]);
    for (const t of rows) {
      const pushed = Date.parse(t.pushed ?? '');
      assert.ok(pushed >= pushedBetween[0] && pushed <= pushedBetween[1], `pushed ${t.pushed}: the tag link's modification time`);
    }
    const remote = await fromRegistry('team/app', '--json');
    assert.equal(remote.code, 0, remote.stderr);
    const remoteRows = (JSON.parse(remote.stdout) as { tags: TagRow[] }).tags;
    assert.deepEqual(remoteRows.map((t) => [t.tag, t.digest, t.size]), [['1.0', image.digest, image.size], ['latest', image.digest, image.size]]);

    const table = await fromStore('team/app');
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^TAG +DIGEST +SIZE +PUSHED +KIND$/);
    assert.match(lines[1], new RegExp(`^1\\.0 +${image.digest} +\\d\\.\\d KiB +\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +image$`));
    assert.equal(lines.length, 3);
  });

  test('an unknown repository, or no credentials for a registry that needs them: exit 1, one line', async () => {
    const store = await fromStore('nope');
    assert.equal(store.code, 1);
    assert.equal(store.stderr, 'ls: repository "nope" not found\n');
    const anonymous = await runBerth(['ls', 'team/app', '--registry', registry.url]);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /^ls: .*401.*\(pass --user and --password\)\n$/);
    assert.equal(anonymous.stdout, '');
  });

  test('--config and --registry together, or --user without --password, are usage errors', async () => {
    for (const args of [['--registry', 'http://x', '--config', config], ['--registry', 'http://x', '--user', 'alice'], ['--user', 'a', '--password', 'b']]) {
      const r = await runBerth(['ls', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /\nusage: berth ls /);
    }
  });
});
