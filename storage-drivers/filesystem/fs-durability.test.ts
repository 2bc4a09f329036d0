import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { straceMissing, traceNode, type StraceCall, type TracedRun } from '../../test/helpers/strace';

/**
 * Durability cannot be seen through the driver's API short of pulling the power, so these tests
 * watch the system calls instead (strace): before putContent or move resolves, the bytes must be
 * synced before the rename (or link) that publishes them, and the directory holding the new name after it.
 */

const DRIVERS = join(__dirname, '..', 'index.js');
const TRACED = 'openat,rename,link,linkat,fsync,fdatasync,write,pwrite64';

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

const missing = straceMissing();
if (missing && process.env.CI) throw new Error(`${missing}: CI must install it`);

const check = (t: { skip: (m: string) => void }) => {
  if (missing) t.skip(missing);
  return !missing;
};

/** Where the child wrote `name` on stderr: the moment the operation before it had resolved. */
function marker(run: TracedRun, name: string): number {
  const c = run.calls.find((x) => x.name === 'write' && x.args.includes(`"${name}\\n"`));
  // Says whether the child never wrote the marker or its line did not parse (a change in strace's format).
  const lines = run.text.split('\n');
  assert.ok(c, `marker ${name} not among the ${run.calls.length} calls parsed from ${lines.length} lines of trace, the first being: ${lines[0]}`);
  return c.start;
}

/** A successful result, which strace suffixes with (DELAYED) when a delay was injected. */
const succeeded = (c: StraceCall) => c.result !== null && /^0( |$)/.test(c.result);

function renameTo(within: StraceCall[], file: string): StraceCall {
  const r = within.find((c) => c.name === 'rename' && c.args.endsWith(`"${file}"`) && succeeded(c));
  assert.ok(r, `no successful rename to ${file}`);
  return r;
}

function linkTo(within: StraceCall[], file: string): StraceCall {
  const l = within.find((c) => (c.name === 'link' || c.name === 'linkat') && c.args.includes(`"${file}"`) && succeeded(c));
  assert.ok(l, `no successful link to ${file}`);
  return l;
}

/** The fsyncs of the directory `d`. */
const dirSyncs = (within: StraceCall[], d: string) => within.filter((c) => c.name === 'fsync' && /^\d+<(.*)>$/.exec(c.args)?.[1] === d);

/** A completed fsync of the directory `d` that started after `afterIdx` and ended before `beforeIdx`. */
const dirSynced = (within: StraceCall[], d: string, afterIdx: number, beforeIdx: number) =>
  dirSyncs(within, d).some((c) => c.start > afterIdx && c.end !== -1 && c.end < beforeIdx && succeeded(c));

/** The temp file was opened with O_DSYNC, or datasynced, before it was renamed at `renameIdx`. */
const dataSynced = (within: StraceCall[], temp: string, renameIdx: number) =>
  within.some(
    (c) =>
      c.end !== -1 &&
      c.end < renameIdx &&
      ((c.name === 'openat' && c.args.includes(`"${temp}"`) && c.args.includes('O_DSYNC')) ||
        ((c.name === 'fdatasync' || c.name === 'fsync') && c.args.includes(`<${temp}>`) && succeeded(c))),
  );

/** Every call that makes something durable: a sync, or an open with O_DSYNC. */
const syncsIn = (within: StraceCall[]) =>
  within.filter((c) => c.name === 'fsync' || c.name === 'fdatasync' || (c.name === 'openat' && c.args.includes('O_DSYNC')));

describe('filesystem driver durability order (strace)', () => {
  let dir = '';
  let root = '';
  let run: TracedRun = { code: null, stderr: '', text: '', calls: [] };

  before(async () => {
    if (missing) return;
    dir = await mkdtemp(join(tmpdir(), 'berth-fs-durability-'));
    root = join(dir, 'root');
    run = await traceNode(CHILD, [DRIVERS, root], ['-e', `trace=${TRACED}`], join(dir, 'trace.txt'));
    assert.equal(run.code, 0, run.stderr);
  });
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  const mark = (name: string) => marker(run, name);
  /** The calls between two markers (the previous one excluded). */
  const between = (from: number, to: number) => run.calls.filter((c) => c.start > from && c.start < to);

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

/** Requests per directory in the concurrent bursts below. */
const N = 8;
/** Each directory fsync is held this long, so that the requests of a burst surely meet while one runs. */
const HELD = 'delay_exit=100ms';

/**
 * N concurrent writes into each of three directories: files replaced in one that exists, new
 * directories (a tag each) below one parent, exclusive creations in one. Request i starts i * 15 ms
 * in, so that most renames happen while an fsync of their directory is held (HELD): one that did
 * not start after them. Each request writes MARK-<kind>-<i> once it resolves, FAIL-<kind>-<i> <code>
 * if it rejects.
 */
const BURST_CHILD = `
// Enough pool threads that the held fsyncs (one per new tag directory too) never keep a rename waiting.
process.env.UV_THREADPOOL_SIZE = '64';
const { createFilesystemDriver } = require(process.argv[1]);
const n = Number(process.argv[3]);
(async () => {
  const d = createFilesystemDriver({ rootDirectory: process.argv[2] });
  for (const p of ['/same/first', '/new/first', '/events/first', '/bad/first', '/good/first']) await d.putContent(p, Buffer.from('x'), { durable: false });
  process.stderr.write('MARK-READY\\n');
  const kinds = process.argv[4].split(',');
  const op = {
    SAME: (i) => d.putContent('/same/f' + i, Buffer.from('v' + i)),
    NEW: (i) => d.putContent('/new/t' + i + '/current/link', Buffer.from('v' + i)),
    EXCL: (i) => d.createExclusive('/events/e' + i, Buffer.from('v' + i)),
    BAD: (i) => d.putContent('/bad/f' + i, Buffer.from('v' + i)),
    GOOD: (i) => d.putContent('/good/f' + i, Buffer.from('v' + i)),
  };
  const started = (i) => new Promise((resolve) => setTimeout(resolve, i * 15));
  await Promise.all(kinds.flatMap((k) => Array.from({ length: n }, (_, i) => started(i).then(() => op[k](i)).then(
    () => process.stderr.write('MARK-' + k + '-' + i + '\\n'),
    (err) => process.stderr.write('FAIL-' + k + '-' + i + ' ' + err.code + '\\n'),
  ))));
})().catch((err) => { console.error(err); process.exit(1); });
`;

describe('filesystem driver durability under concurrent writes to one directory (strace)', () => {
  let dir = '';
  let root = '';
  let run: TracedRun = { code: null, stderr: '', text: '', calls: [] };
  let burst: StraceCall[] = [];

  before(async () => {
    if (missing) return;
    dir = await mkdtemp(join(tmpdir(), 'berth-fs-grouped-'));
    root = join(dir, 'root');
    run = await traceNode(BURST_CHILD, [DRIVERS, root, String(N), 'SAME,NEW,EXCL'], ['-e', `trace=${TRACED}`, '-e', `inject=fsync:${HELD}`], join(dir, 'trace.txt'));
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /FAIL-/);
    burst = run.calls.filter((c) => c.start > marker(run, 'MARK-READY'));
  });
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  /** Fewer fsyncs than requests: some requests shared one (each alone would make N). */
  const shared = (d: string) => {
    const count = dirSyncs(burst, d).length;
    assert.ok(count >= 1 && count < N, `${count} fsyncs of ${d} for ${N} concurrent requests`);
  };

  it('covers each replaced file with a directory fsync started after its rename, sharing them', (t) => {
    if (!check(t)) return;
    for (let i = 0; i < N; i++) {
      const r = renameTo(burst, join(root, `same/f${i}`));
      assert.ok(dirSynced(burst, join(root, 'same'), r.end, marker(run, `MARK-SAME-${i}`)), `f${i} resolved before an fsync that started after its rename had ended`);
    }
    shared(join(root, 'same'));
  });

  it('covers each new directory and the file in it with fsyncs started after the rename, sharing the parent', (t) => {
    if (!check(t)) return;
    for (let i = 0; i < N; i++) {
      const r = renameTo(burst, join(root, `new/t${i}`));
      const resolved = marker(run, `MARK-NEW-${i}`);
      assert.ok(dirSynced(burst, join(root, 'new'), r.end, resolved), `t${i}: its parent not synced after the rename`);
      assert.ok(dirSynced(burst, join(root, `new/t${i}/current`), r.end, resolved), `t${i}: the file's directory not synced after the rename`);
    }
    shared(join(root, 'new'));
  });

  it('covers each exclusive creation with a directory fsync started after its link, sharing them', (t) => {
    if (!check(t)) return;
    for (let i = 0; i < N; i++) {
      const l = linkTo(burst, join(root, `events/e${i}`));
      assert.ok(dirSynced(burst, join(root, 'events'), l.end, marker(run, `MARK-EXCL-${i}`)), `e${i} resolved before an fsync that started after its link had ended`);
    }
    shared(join(root, 'events'));
  });

  it('fails every request that shared a failed directory fsync, and no other', async (t) => {
    if (!check(t)) return;
    // Only the fsyncs of `bad` fail (strace -P limits the trace and the injection to that path).
    const bad = join(root, 'bad');
    await mkdir(bad, { recursive: true });
    const failing = await traceNode(BURST_CHILD, [DRIVERS, root, String(N), 'BAD,GOOD'], ['-P', bad, '-e', 'trace=fsync', '-e', `inject=fsync:error=EIO:${HELD}`], join(dir, 'trace-eio.txt'));
    assert.equal(failing.code, 0, failing.stderr);
    for (let i = 0; i < N; i++) {
      assert.match(failing.stderr, new RegExp(`^FAIL-BAD-${i} EIO$`, 'm'), `request ${i} to the failing directory`);
      assert.doesNotMatch(failing.stderr, new RegExp(`^FAIL-GOOD-${i} `, 'm'), `request ${i} to the healthy directory`);
    }
    const syncs = dirSyncs(failing.calls, bad);
    assert.ok(syncs.every((c) => c.result?.startsWith('-1 EIO')), 'an fsync of the failing directory succeeded');
    assert.ok(syncs.length >= 1 && syncs.length < N, `${syncs.length} fsyncs of ${bad} for ${N} concurrent requests: none was shared`);
  });
});
