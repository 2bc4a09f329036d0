import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerthProcess } from '../helpers/berth-process';

test('access log: one JSON line per request with the request id, and never an upload _state', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-logs-'));
  const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root } });
  try {
    const post = await fetch(`${berth.url}/v2/logs/test/blobs/uploads/`, { method: 'POST', headers: { 'X-Request-Id': 'req-123' } });
    assert.equal(post.status, 202);
    assert.equal(post.headers.get('x-request-id'), 'req-123');
    const location = post.headers.get('location')!;
    const state = new URL(location).searchParams.get('_state')!;
    assert.ok(state.length > 20);
    const patch = await fetch(location, { method: 'PATCH', body: 'abc' });
    assert.equal(patch.status, 202);
    const status = await fetch(patch.headers.get('location')!);
    assert.equal(status.status, 204);
    await new Promise((r) => setTimeout(r, 200));
    const logs = berth.logs();
    assert.ok(!logs.includes(state), 'an upload _state reached the log');
    const lines = logs.split('\n').filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const ours = lines.filter((l) => String(l.url).startsWith('/v2/logs/test/'));
    assert.equal(ours.length, 3, logs);
    assert.equal(ours[0].reqId, 'req-123');
    assert.equal(ours[0].status, 202);
    assert.match(String(ours[1].url), /_state=REDACTED/);
  } finally {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  }
});
