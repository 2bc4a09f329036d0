import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerthProcess } from '../helpers/berth-process';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

test('metrics: a separate debug listener serves Prometheus text that follows the traffic', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-metrics-'));
  const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_DEBUG_ADDR: '127.0.0.1:0' } });
  try {
    const line = berth.logs().split('\n').find((l) => l.includes('debug listener (metrics) ready'));
    assert.ok(line, berth.logs());
    const debugUrl = `http://${(JSON.parse(line) as { address: string }).address}`;

    const blob = randomBytes(5000);
    const digest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
    assert.equal((await fetch(`${berth.url}/v2/m/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob })).status, 201);
    const got = await fetch(`${berth.url}/v2/m/blobs/${digest}`);
    assert.equal(Buffer.from(await got.arrayBuffer()).length, 5000);
    assert.equal((await fetch(`${berth.url}/v2/m/manifests/nope`)).status, 404);
    assert.equal((await fetch(`${berth.url}/metrics`)).status, 404, 'metrics stay off the registry port');

    const res = await fetch(`${debugUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.equal(value(text, 'berth_http_requests_total{route="blob",method="GET",status="200"}'), 1);
    assert.equal(value(text, 'berth_http_requests_total{route="manifest",method="GET",status="404"}'), 1);
    assert.equal(value(text, 'berth_http_requests_total{route="upload-start",method="POST",status="201"}'), 1);
    assert.ok(value(text, 'berth_blob_received_bytes_total') >= 5000, text);
    assert.equal(value(text, 'berth_blob_sent_bytes_total'), 5000);
    assert.equal(value(text, 'berth_upload_requests_in_flight'), 0);
    assert.ok(value(text, 'berth_storage_operation_duration_seconds_count{driver="filesystem",operation="move",result="ok"}') >= 1, text);
    assert.ok(value(text, 'berth_http_request_duration_seconds_count{route="blob",method="GET",status="200"}') === 1);
    assert.match(text, /^process_cpu_user_seconds_total /m, 'Node default metrics are there');
    assert.match(text, /^# TYPE berth_auth_failures_total counter$/m);
    assert.match(text, /^# TYPE berth_gc_runs_total counter$/m);
    // Without redis there is no shared cache to be up or down: a 0 would read as an outage.
    assert.doesNotMatch(text, /berth_redis_/, 'no redis metrics without redis');
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});
