import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blobDataExists, writeOrphanBlob } from '../helpers/orphan-blobs';
import { MAIN_JS, runBerth } from '../helpers/berth-process';

const HOUR = 3_600_000;
/** What the progress line starts with: carriage return, then erase to the end of the line. */
const ERASE = '\r\u001b\\[K';

/** `script` (util-linux) runs a command on a pseudo-terminal: stderr is then a TTY. */
function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const line = [process.execPath, MAIN_JS, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) =>
    execFile('script', ['-qec', line, '/dev/null'], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (err, stdout) => (err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout))),
  );
}

const hasScript = new Promise<boolean>((resolve) => execFile('script', ['--version'], (err) => resolve(err === null)));

/** `berth gc` says what it did, or why it did nothing, in words; --json is the report. */
describe('berth gc: the summary, --json and progress', { timeout: 120_000 }, () => {
  let dir: string;
  let root: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-gc-summary-'));
    root = join(dir, 'store');
    env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const orphan = (ageMs: number, bytes = 100) => writeOrphanBlob(root, ageMs, bytes);
  const exists = (digest: string) => blobDataExists(root, digest);
  const gc = (...args: string[]) => runBerth(['gc', ...args], { env, timeoutMs: 60_000 });

  test('nothing collected because of the grace period: says so, with the period', async () => {
    await orphan(0, 2048);
    await orphan(0, 1024);
    const r = await gc();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'gc: 0 repositories, 0 manifests, 0 blobs marked\nnothing to collect: 2 unreferenced blobs (3.0 KiB) are younger than the 1h grace period, which spares what a push in progress may need (--grace sets it)\n');
    assert.equal(r.stderr, '', 'no progress without a terminal');
    const json = await gc('--json', '--grace', '30m');
    assert.deepEqual((JSON.parse(json.stdout) as { young: unknown }).young, { blobs: 2, bytes: 3072 });
    const thirty = await gc('--grace', '30m');
    assert.match(thirty.stdout, /younger than the 30m grace period/);
    await rm(root, { recursive: true, force: true });
  });

  test('an old blob that only a fresh link holds (a push in progress) is counted as spared by the grace period', async () => {
    const held = await orphan(2 * HOUR, 512);
    const link = join(root, 'docker/registry/v2/repositories/app/_layers/sha256', held.slice('sha256:'.length));
    await mkdir(link, { recursive: true });
    await writeFile(join(link, 'link'), held);
    const r = await gc();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nnothing to collect: 1 unreferenced blob \(512 B\) is younger than the 1h grace period/);
    assert.ok(await exists(held));
    await rm(root, { recursive: true, force: true });
  });

  test('a dry run lists what would go and deletes nothing; a real run lists what went', async () => {
    const old = await orphan(2 * HOUR, 1536);
    await orphan(0);
    const dry = await gc('--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      `gc (dry run): 0 repositories, 0 manifests, 0 blobs marked\nwould delete 1 blob (1.5 KiB):\n  blob ${old} 1.5 KiB\nkept 1 unreferenced blob (100 B) younger than the 1h grace period\n`,
    );
    assert.ok(await exists(old));
    const real = await gc();
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, new RegExp(`^gc: .*\\ndeleted 1 blob \\(1\\.5 KiB\\):\\n {2}blob ${old} 1\\.5 KiB\\n`));
    assert.equal(await exists(old), false);
    const again = await gc('--grace', '0s');
    assert.match(again.stdout, /deleted 1 blob \(100 B\)/);
    const none = await gc('--grace', '0s');
    assert.match(none.stdout, /\nnothing to collect: every blob is referenced; manifests no tag reaches are kept \(--delete-untagged deletes them\)\n$/);
    await rm(root, { recursive: true, force: true });
  });

  test('progress on stderr only on a terminal; the summary is the same', async (t) => {
    if (!(await hasScript)) return t.skip('script (util-linux) is not installed');
    for (let i = 0; i < 3; i++) await orphan(2 * HOUR);
    const shown = await onTerminal(['gc', '--dry-run'], env);
    // Carriage return, erase line: the line is rewritten in place, and cleared before the summary.
    const at = (text: string) => new RegExp(`${ERASE}${text}`);
    assert.match(shown, at('gc: (marking|0 blobs in use; walked)'), JSON.stringify(shown));
    assert.match(shown, at('gc \\(dry run\\): 0 repositories'), JSON.stringify(shown));
    const check = await onTerminal(['check', '--verify-digests'], env);
    assert.match(check, at('check: 0/0 repositories, \\d blobs verified'), JSON.stringify(check));
    assert.match(check, at('check: clean'), JSON.stringify(check));
    const piped = await runBerth(['check'], { env });
    assert.equal(piped.stderr, '');
    await rm(root, { recursive: true, force: true });
  });
});
