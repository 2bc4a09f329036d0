// `npm test`: every *.test.js under dist/ with Node's test runner, one file at a time, in two
// streams: the deploy suites (docker builds, compose stacks, the chart on dockerd; about half of the
// time) and the rest. They share nothing (docs/testing.md lists what each suite keeps private), so
// with --parallel they run at once and the second core works through the rest meanwhile. That is
// not the default yet: its only measurement was on a machine loaded by other runs (load 10 to 17),
// where timing-bound tests failed; by default the streams run one after the other.
//
//   node scripts/run-tests.mjs [--parallel]     both streams, every test file
//   node scripts/run-tests.mjs --opt ...        both streams, the options passed to each
//   node scripts/run-tests.mjs FILE... [--opt]  one run of just those files, output as it comes
//
// Each stream writes its own log; when both have finished they are printed whole, deploy first,
// so their lines never interleave. The exit code is non-zero if either stream failed.
//
// Either way the run gets a cache directory of its own (BERTH_TEST_IMAGE_CACHE), removed when it
// ends: suites that only run the Berth image share one build through it (test/helpers/image-cache.ts).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import console from 'node:console';
import process from 'node:process';

const ROOT = 'dist';
// Relative to ROOT, with a trailing slash: a file below it belongs to the first stream.
const DEPLOY = 'test/deploy/';
const BASE_ARGS = ['--test', '--test-concurrency=1'];

function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(p));
    else if (entry.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const cache = mkdtempSync(path.join(tmpdir(), 'berth-test-cache-'));
process.on('exit', () => rmSync(cache, { recursive: true, force: true }));
const env = { ...process.env, BERTH_TEST_IMAGE_CACHE: cache };

// A runner stopped from outside (Ctrl-C, CI's timeout) passes the signal on and waits for its runs:
// their test processes end the daemons they started (test/helpers/daemon.ts), then the cache goes.
const children = [];
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    for (const c of children) c.kill(signal);
  });

const args = process.argv.slice(2).filter((a) => a !== '--parallel');
const parallel = args.length < process.argv.length - 2;
const options = args.filter((a) => a.startsWith('-'));
const files = args.filter((a) => !a.startsWith('-'));

if (files.length > 0) {
  const child = spawn(process.execPath, [...BASE_ARGS, ...options, ...files], { stdio: 'inherit', env });
  children.push(child);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  process.exitCode = await runStreams();
}

async function runStreams() {
  const all = testFiles(ROOT).sort();
  const inDeploy = (f) => path.relative(ROOT, f).split(path.sep).join('/').startsWith(DEPLOY);
  // With --parallel the longest stream starts first: it bounds the run's wall time.
  const streams = [
    { name: 'deploy', files: all.filter(inDeploy) },
    { name: 'rest', files: all.filter((f) => !inDeploy(f)) },
  ];
  // Redirected to a file the runner would fall back to TAP; at a terminal keep what it shows there.
  const reporter = process.stdout.isTTY && !options.some((o) => o.startsWith('--test-reporter')) ? ['--test-reporter=spec'] : [];
  const logs = await mkdtemp(path.join(tmpdir(), 'berth-test-logs-'));
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  console.log(`# running ${all.length} test files in ${streams.length} streams${parallel ? ' at once' : ', one after the other'}; logs while they run: ${logs}`);
  const run = (s) => {
    const log = path.join(logs, `${s.name}.log`);
    console.log(`# stream ${s.name}: ${s.files.length} files`);
    const out = createWriteStream(log);
    const child = spawn(process.execPath, [...BASE_ARGS, ...reporter, ...options, ...s.files], { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.push(child);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    return new Promise((resolve) => {
      child.on('close', (code, signal) => {
        out.end(() => {
          console.log(`# stream ${s.name} finished at ${elapsed()}: ${signal ? `killed by ${signal}` : `exit code ${code}`}`);
          resolve({ ...s, log, ok: code === 0 });
        });
      });
    });
  };
  const results = [];
  if (parallel) results.push(...(await Promise.all(streams.map(run))));
  else {
    // One after the other, the deploy suites go last: .ci/run's Node 20 run shares the cores for
    // the first eight minutes, and the compose stacks' health checks (a replica ready within its
    // 60 s start period) are what that load broke when they went first (CI of 6ac680b).
    for (const s of [...streams].reverse()) results.push(await run(s));
    results.reverse();
  }
  for (const r of results) {
    console.log(`\n# ===== stream ${r.name} (${r.files.length} files): ${r.ok ? 'passed' : 'FAILED'}`);
    process.stdout.write(await readFile(r.log));
  }
  await rm(logs, { recursive: true, force: true });
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  console.log(`\n# ${failed.length === 0 ? 'both streams passed' : `failed: ${failed.join(', ')}`} (${elapsed()})`);
  return failed.length === 0 ? 0 : 1;
}
