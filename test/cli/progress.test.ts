import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { progressOn } from '../../src/cli/progress';
import { runInsight, type ReportSource } from '../../src/insight-cli/run-insight';
import type { ManifestReport } from '../../src/insight/report/report-types';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (s: string) => writes.push(s) };
}

describe('the progress line', () => {
  test('on a terminal: rewritten in place at most every 200 ms, cleared when done', () => {
    const s = stream(true);
    let now = 1000;
    const p = progressOn(s, () => now);
    p.update(() => 'one');
    now += 50;
    p.update(() => 'too soon');
    now += 200;
    p.update(() => 'two');
    p.done();
    assert.deepEqual(s.writes, ['\r\u001b[Kone', '\r\u001b[Ktwo', '\r\u001b[K']);
  });

  test('not a terminal (a pipe, a file): nothing at all, and the line is never built', () => {
    const s = stream(false);
    const p = progressOn(s);
    p.update(() => assert.fail('built without a terminal'));
    p.done();
    assert.deepEqual(s.writes, []);
  });

  test('berth insight says what it waits for while the report is pending, then clears it', async () => {
    const pending = { status: 'pending', pending: [{ digest: 'sha256:a' }, { digest: 'sha256:b' }], layers: 2, repository: 'app', digest: 'sha256:m' } as unknown as ManifestReport;
    const done = { status: 'not-an-image', repository: 'app', digest: 'sha256:m', mediaType: 'x' } as unknown as ManifestReport;
    let asked = 0;
    const source: ReportSource = {
      report: () => Promise.resolve({ ok: true, value: asked++ === 0 ? pending : done }),
      storage: () => Promise.reject(new Error('not asked')),
    };
    const s = stream(true);
    let out = '';
    const code = await runInsight({ image: 'app:1', json: false, waitSeconds: 10, failOnSecrets: false }, source, (x) => (out += x), () => undefined, progressOn(s));
    assert.equal(code, 0);
    assert.equal(out, 'app@sha256:m: not an image (x)\n');
    assert.deepEqual(s.writes, ['\r\u001b[Kinsight: waiting for the analysis of 2 layer(s)', '\r\u001b[K']);
  });
});
