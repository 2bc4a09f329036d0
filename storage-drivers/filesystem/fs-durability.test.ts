import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseStrace, type StraceCall } from '../../test/helpers/strace';

/**
 * Durability cannot be seen through the driver's API short of pulling the power, so these tests
 * watch the system calls instead (strace): before putContent or move resolves, the bytes must be
 * synced before the rename (or link) that publishes them, and the directory holding the new name after it.
 */

const CHILD = `
const { createFilesystemDriver } = require(process.argv[1]);
(async () => {
  const d = createFilesystemDriver({ rootDirectory: process.argv[2] });
  await d.putContent('/repo/tags/t/current/link', Buffer.from('sha256:one'));
  process.stderr.write('MARK-PUT-NEW\\n');
  await d.putContent('/repo/tags/t/current/link', Buffer.from('sha256:two'));
  process.stderr.write('MARK-PUT-REPLACE\\n');
  await d.putContent('/up/1/data', Buffer.from('blob bytes'), { durable: false });
  process.stderr.write('MARK-PUT-LAZY\\n');
  await d.move('/up/1/data', '/blobs/ab/abcd/data');
  process.stderr.write('MARK-MOVE\\n');
  await d.createExclusive('/events/segments/one', Buffer.from('event'));
  process.stderr.write('MARK-EXCL\\n');
  await d.createExclusive('/events/segments/two', Buffer.from('event'), { durable: false });
  process.stderr.write('MARK-EXCL-LAZY\\n');
})().catch((err) => { console.error(err); process.exit(1); });
`;

function straceMissing(): string | null {
  const r = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  if (r.status === 0) return null;
  return 'strace is not installed (apt-get install strace)';
}

describe('filesystem driver durability order (strace)', () => {
  const missing = straceMissing();
  if (missing && process.env.CI) throw new Error(`${missing}: CI must install it`);
  let dir = '';
  let traceText = '';
  let calls: StraceCall[] = [];
  let root = '';

  before(async () => {
    if (missing) return;
    dir = await mkdtemp(join(tmpdir(), 'berth-fs-durability-'));
    root = join(dir, 'root');
    const trace = join(dir, 'trace.txt');
    const args = ['-f', '-y', '-qq', '-e', 'trace=openat,rename,link,linkat,fsync,fdatasync,write,pwrite64', '-o', trace];
    const child = spawn('strace', [...args, process.execPath, '-e', CHILD, join(__dirname, '..', 'index.js'), root], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // 'close' comes after strace has exited (so its -o file is complete) and its stderr has drained.
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, stderr);
    traceText = await readFile(trace, 'utf8');
    calls = parseStrace(traceText);
  });
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  const mark = (name: string): number => {
    const c = calls.find((x) => x.name === 'write' && x.args.includes(`"${name}\\n"`));
    // Says whether the child never wrote the marker or its line did not parse (a change in strace's format).
    const lines = traceText.split('\n');
    assert.ok(c, `marker ${name} not among the ${calls.length} calls parsed from ${lines.length} lines of trace, the first being: ${lines[0]}`);
    return c.start;
  };
  /** The calls between two markers (the previous one excluded). */
  const between = (from: number, to: number) => calls.filter((c) => c.start > from && c.start < to);
  const renameTo = (within: StraceCall[], file: string) => {
    const r = within.find((c) => c.name === 'rename' && c.args.endsWith(`"${file}"`) && c.result === '0');
    assert.ok(r, `no successful rename to ${file}`);
    return r;
  };
  /** A completed fsync of the directory `d` that started after `after` and ended before `before`. */
  const dirSynced = (within: StraceCall[], d: string, afterIdx: number, beforeIdx: number) =>
    within.some((c) => c.name === 'fsync' && /^\d+<(.*)>$/.exec(c.args)?.[1] === d && c.start > afterIdx && c.end !== -1 && c.end < beforeIdx && c.result === '0');
  /** The temp file was opened with O_DSYNC, or datasynced, before it was renamed at `renameIdx`. */
  const dataSynced = (within: StraceCall[], temp: string, renameIdx: number) =>
    within.some(
      (c) =>
        c.end !== -1 &&
        c.end < renameIdx &&
        ((c.name === 'openat' && c.args.includes(`"${temp}"`) && c.args.includes('O_DSYNC')) ||
          ((c.name === 'fdatasync' || c.name === 'fsync') && c.args.includes(`<${temp}>`) && c.result === '0')),
    );

  /** Every call that makes something durable: a sync, or an open with O_DSYNC. */
  const syncsIn = (within: StraceCall[]) =>
    within.filter((c) => c.name === 'fsync' || c.name === 'fdatasync' || (c.name === 'openat' && c.args.includes('O_DSYNC')));

  const check = (t: { skip: (m: string) => void }) => {
    if (missing) t.skip(missing);
    return !missing;
  };

  it('putContent syncs the bytes before the rename and the directory before it resolves', (t) => {
    if (!check(t)) return;
    const to = mark('MARK-PUT-REPLACE');
    const within = between(mark('MARK-PUT-NEW'), to);
    const file = join(root, 'repo/tags/t/current/link');
    const r = renameTo(within, file);
    const temp = /^"([^"]+)"/.exec(r.args)![1];
    assert.ok(dataSynced(within, temp, r.start), `bytes of ${temp} not synced before the rename`);
    assert.ok(dirSynced(within, join(root, 'repo/tags/t/current'), r.end, to), 'directory not synced after the rename');
  });

  it('putContent below new directories writes them under a temp name, syncs the bytes, renames the top one, then syncs both ends', (t) => {
    if (!check(t)) return;
    const to = mark('MARK-PUT-NEW');
    const within = between(-1, to);
    // The first missing directory below the root is `repo`: it appears only with the file in it.
    const r = renameTo(within, join(root, 'repo'));
    const stage = /^"([^"]+)"/.exec(r.args)![1];
    assert.match(stage, /\/~tmp-[0-9a-f]+$/);
    assert.ok(dataSynced(within, `${stage}/tags/t/current/link`, r.start), 'bytes not synced before the directory was renamed into place');
    assert.ok(!within.some((c) => c.name === 'rename' && c.args.endsWith(`"${join(root, 'repo/tags/t/current/link')}"`)), 'the file itself was renamed');
    assert.ok(dirSynced(within, join(root, 'repo/tags/t/current'), r.end, to), "the file's directory not synced after the rename");
    assert.ok(dirSynced(within, root, r.end, to), "the new directory's parent not synced after the rename");
  });

  it('putContent with durable: false syncs nothing', (t) => {
    if (!check(t)) return;
    const within = between(mark('MARK-PUT-REPLACE'), mark('MARK-PUT-LAZY'));
    renameTo(within, join(root, 'up'));
    assert.deepEqual(syncsIn(within), []);
  });

  it('move syncs the destination directory before it resolves', (t) => {
    if (!check(t)) return;
    const to = mark('MARK-MOVE');
    const within = between(mark('MARK-PUT-LAZY'), to);
    const r = renameTo(within, join(root, 'blobs/ab/abcd/data'));
    assert.ok(dirSynced(within, join(root, 'blobs/ab/abcd'), r.end, to), 'destination directory not synced after the rename');
  });

  const linkTo = (within: StraceCall[], file: string) => {
    const l = within.find((c) => (c.name === 'link' || c.name === 'linkat') && c.args.includes(`"${file}"`) && c.result === '0');
    assert.ok(l, `no successful link to ${file}`);
    return l;
  };

  it('createExclusive syncs the bytes before the link and the directory before it resolves', (t) => {
    if (!check(t)) return;
    const to = mark('MARK-EXCL');
    const within = between(mark('MARK-MOVE'), to);
    const l = linkTo(within, join(root, 'events/segments/one'));
    const temp = /"([^"]+)"/.exec(l.args)![1];
    assert.ok(dataSynced(within, temp, l.start), `bytes of ${temp} not synced before the link`);
    assert.ok(dirSynced(within, join(root, 'events/segments'), l.end, to), 'directory not synced after the link');
  });

  it('createExclusive with durable: false syncs nothing', (t) => {
    if (!check(t)) return;
    const within = between(mark('MARK-EXCL'), mark('MARK-EXCL-LAZY'));
    linkTo(within, join(root, 'events/segments/two'));
    assert.deepEqual(syncsIn(within), []);
  });
});
