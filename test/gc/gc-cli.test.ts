import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blobDataExists, writeOrphanBlob } from '../helpers/orphan-blobs';
import { runBerth, type BerthRun } from '../helpers/berth-process';

/**
 * `berth gc` against a store named only by `--config`, with its flags in every order: the report
 * must be the configured store's (its orphan blobs), never that of ./data in the working directory.
 */
describe('berth gc command line', { timeout: 120_000 }, () => {
  let dir: string;
  let root: string;
  let file: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-gc-cli-'));
    root = join(dir, 'store');
    file = join(dir, 'config.yml');
    await writeFile(file, `storage:\n  filesystem:\n    rootdirectory: ${root}\n`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const orphan = (ageMs: number) => writeOrphanBlob(root, ageMs);
  const exists = (digest: string) => blobDataExists(root, digest);
  // cwd is the test directory, so a collection that falls back to ./data finds an empty store there.
  const gc = (...args: string[]): Promise<BerthRun> => runBerth(['gc', '--json', ...args], { cwd: dir, timeoutMs: 60_000 });

  const orders: Array<{ args: (f: string) => string[]; dryRun: boolean; grace0: boolean }> = [
    { args: (f) => ['--config', f], dryRun: false, grace0: false },
    { args: (f) => ['-c', f], dryRun: false, grace0: false },
    { args: (f) => [`--config=${f}`, '--dry-run'], dryRun: true, grace0: false },
    { args: (f) => ['--dry-run', '--config', f], dryRun: true, grace0: false },
    { args: (f) => ['--delete-untagged', '-c', f, '--dry-run'], dryRun: true, grace0: false },
    { args: (f) => ['--config', f, '--grace', '0s', '--dry-run'], dryRun: true, grace0: true },
    { args: (f) => ['--grace', '0s', '--config', f], dryRun: false, grace0: true },
    { args: (f) => ['--grace=0s', '-c', f], dryRun: false, grace0: true },
    { args: (f) => ['--dry-run', '--grace=0s', `--config=${f}`, '--delete-untagged'], dryRun: true, grace0: true },
  ];
  for (const order of orders) {
    test(`gc ${order.args('F').join(' ')} collects the configured store`, async () => {
      const old = await orphan(2 * 3_600_000);
      const fresh = await orphan(0);
      const r = await gc(...order.args(file));
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { dryRun: boolean; blobs: Array<{ digest: string }> };
      assert.equal(report.dryRun, order.dryRun);
      const reported = report.blobs.map((b) => b.digest);
      assert.ok(reported.includes(old), `the old orphan of the configured store is reported: ${r.stdout}`);
      assert.equal(reported.includes(fresh), order.grace0, 'a fresh blob is collected only with --grace 0s');
      assert.equal(await exists(old), order.dryRun);
      assert.equal(await exists(fresh), order.dryRun || !order.grace0);
      await rm(root, { recursive: true, force: true });
    });
  }

  for (const args of [['--dryrun'], ['--dryrun', '-c'], ['stray'], ['--grace', 'soon'], ['--grace'], ['--config']]) {
    test(`gc ${args.join(' ')} --config F … is refused with the usage, exit 2, and deletes nothing`, async () => {
      const old = await orphan(2 * 3_600_000);
      const full = args.at(-1) === '-c' ? [...args, file] : [...args, '--config', file];
      // `--grace` / `--config` with no value: the flag is last on the line.
      const line = args.at(-1) === '--grace' || args.at(-1) === '--config' ? ['--config', file, ...args] : full;
      const r = await gc(...line);
      assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /usage: berth/);
      assert.equal(r.stdout, '');
      assert.ok(await exists(old), 'nothing was deleted');
      await rm(root, { recursive: true, force: true });
    });
  }

  test('serve and config check refuse an unknown flag or a stray argument with the usage, exit 2', async () => {
    for (const args of [['serve', '--confg', file], ['config', 'check', '--confg', file], ['config', 'check', 'extra'], ['serve', file], ['--confg', file]]) {
      const r = await runBerth(args, { cwd: dir, env: { REGISTRY_HTTP_ADDR: '127.0.0.1:0' } });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /usage: berth/);
    }
  });

  test('config check reads the file named by -c, --config or --config=', async () => {
    for (const args of [['-c', file], ['--config', file], [`--config=${file}`]]) {
      const r = await runBerth(['config', 'check', ...args], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { storage: { filesystem: { rootdirectory: string } } }).storage.filesystem.rootdirectory, root);
    }
  });
});
