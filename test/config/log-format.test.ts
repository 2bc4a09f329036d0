import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logger';
import { runBerth, startBerthProcess } from '../helpers/berth-process';

const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/;

/** Every line a process wrote that is not an indented stack line. */
function lines(output: string): string[] {
  return output.split('\n').filter((l) => l !== '' && !l.startsWith('    '));
}

test('log.formatter text: one readable line per record, fields as key=value, spaces quoted; never JSON', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-textlog-'));
  const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_LOG_FORMATTER: 'text' } });
  try {
    const res = await fetch(`${berth.url}/v2/`, { headers: { 'User-Agent': 'my agent/1.0 (test)', 'X-Request-Id': 'req-text-1' } });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 200));
    const out = lines(berth.logs());
    for (const l of out) assert.match(l, TEXT_LINE, `not a text log line: ${l}`);
    assert.ok(out.some((l) => /INFO {2}listening address=127\.0\.0\.1:\d+ storage=filesystem tls=false/.test(l)), berth.logs());
    const request = out.find((l) => l.includes('reqId=req-text-1'));
    assert.ok(request, berth.logs());
    assert.match(request, /INFO {2}request /);
    assert.match(request, / url=\/v2\/ /);
    assert.match(request, / status=200 /);
    assert.match(request, / userAgent="my agent\/1\.0 \(test\)"/);
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('log.formatter text reaches a group of workers and the analysis child', { timeout: 90_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-textlog-workers-'));
  const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_LOG_FORMATTER: 'text', REGISTRY_HTTP_WORKERS: '2' }, startTimeoutMs: 60_000 });
  try {
    const deadline = Date.now() + 20_000;
    while (!/analysis child ready/.test(berth.logs()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const out = lines(berth.logs());
    assert.ok(out.some((l) => /INFO {2}worker listening worker=0 /.test(l)), berth.logs());
    assert.ok(out.some((l) => /INFO {2}worker listening worker=1 /.test(l)), berth.logs());
    assert.ok(out.some((l) => /INFO {2}analysis child ready /.test(l)), berth.logs());
    for (const l of out) assert.match(l, TEXT_LINE, `not a text log line: ${l}`);
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('log.formatter text: an error is its message and code on the line, its stack indented below; redaction holds', () => {
  let written = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      written += chunk.toString();
      cb();
    },
  });
  const logger = createLogger({ level: 'info', formatter: 'text', accesslog: { disabled: false }, fields: {} }, sink);
  const err = Object.assign(new Error('disk on fire'), { code: 'EIO' });
  logger.error({ err, password: 'hunter2', path: '/var/lib/berth' }, 'write failed');
  const [line, ...stack] = written.trimEnd().split('\n');
  assert.match(line, TEXT_LINE);
  assert.match(line, / ERROR write failed /);
  assert.match(line, / err\.message="disk on fire" /);
  assert.match(line, / err\.code=EIO/);
  assert.match(line, / password=REDACTED/);
  assert.match(line, / path=\/var\/lib\/berth/);
  assert.ok(!written.includes('hunter2'));
  assert.match(stack[0], /^ {4}Error: disk on fire$/);
  assert.ok(stack.length > 1 && stack.every((l) => l.startsWith('    at ') || l.startsWith('    Error')), written);
});

test("log.formatter: Distribution's logstash is accepted (written as JSON); anything else is refused", async () => {
  const ok = await runBerth(['config', 'check'], { env: { REGISTRY_LOG_FORMATTER: 'logstash' } });
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await runBerth(['config', 'check'], { env: { REGISTRY_LOG_FORMATTER: 'pretty' } });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /log\.formatter/);
});
