import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load';

describe('ui config', () => {
  test('defaults: on, at /ui', async () => {
    assert.deepEqual((await loadConfig({ env: {} })).ui, { enabled: true, path: '/ui' });
  });

  test('REGISTRY_UI_ENABLED and REGISTRY_UI_PATH', async () => {
    const c = await loadConfig({ env: { REGISTRY_UI_ENABLED: 'false', REGISTRY_UI_PATH: '/console/registry' } });
    assert.deepEqual(c.ui, { enabled: false, path: '/console/registry' });
  });

  test('a path that is not one, or that the registry answers itself, is refused naming the key', async () => {
    for (const bad of ['ui', '/ui/', '/', '/v2', '/v2/ui', '/auth/ui', '/healthz', '/a/../b', '/a b', '/a?b']) {
      await assert.rejects(loadConfig({ env: { REGISTRY_UI_PATH: bad } }), (e: unknown) => e instanceof ConfigError && /^config: ui\.path/.test(e.message), bad);
    }
  });
});
