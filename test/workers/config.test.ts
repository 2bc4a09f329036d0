import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultWorkers } from '../../src/config/cpu-limit';
import { ConfigError, loadConfig } from '../../src/config/load';

describe('http.workers', () => {
  test('defaults to the CPUs available to the process (cgroup-aware: cpu-limit.test.ts)', async () => {
    const c = await loadConfig({ env: {} });
    assert.equal(c.http.workers, await defaultWorkers());
  });

  test('REGISTRY_HTTP_WORKERS sets it', async () => {
    const c = await loadConfig({ env: { REGISTRY_HTTP_WORKERS: '3' } });
    assert.equal(c.http.workers, 3);
  });

  test('in-memory storage keeps one process by default, since workers could not share it', async () => {
    const c = await loadConfig({ env: { REGISTRY_STORAGE: 'inmemory' } });
    assert.equal(c.http.workers, 1);
  });

  test('several workers on in-memory storage are refused, naming the key', async () => {
    await assert.rejects(loadConfig({ env: { REGISTRY_STORAGE: 'inmemory', REGISTRY_HTTP_WORKERS: '2' } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /http\.workers \(from REGISTRY_HTTP_WORKERS\): .*inmemory/);
      return true;
    });
  });

  test('zero and fractions are refused', async () => {
    for (const v of ['0', '1.5', '-2'])
      await assert.rejects(loadConfig({ env: { REGISTRY_HTTP_WORKERS: v } }), /http\.workers \(from REGISTRY_HTTP_WORKERS\)/);
  });
});
