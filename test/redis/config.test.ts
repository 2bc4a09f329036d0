import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load';

const base = { REGISTRY_STORAGE: 'inmemory' };

async function refused(env: Record<string, string>, ...parts: string[]): Promise<void> {
  await assert.rejects(loadConfig({ env: { ...base, ...env } }), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    for (const part of parts) assert.ok(err.message.includes(part), `"${err.message}" should mention "${part}"`);
    return true;
  });
}

describe('the redis section', () => {
  test('is off by default; REGISTRY_REDIS_* set it, with Distribution-like defaults', async () => {
    assert.equal((await loadConfig({ env: base })).redis, undefined);
    const { redis } = await loadConfig({ env: { ...base, REGISTRY_REDIS_ADDR: 'cache.internal:6379', REGISTRY_REDIS_PASSWORD: 'pw', REGISTRY_REDIS_DB: '2', REGISTRY_REDIS_TLS_ENABLED: 'true' } });
    assert.deepEqual(redis, {
      addr: 'cache.internal:6379',
      password: 'pw',
      db: 2,
      dialtimeout: 1000,
      readtimeout: 200,
      writetimeout: 500,
      ttl: 60_000,
      maxmanifestbytes: 256 * 1024,
      tls: { enabled: true },
    });
    assert.equal((await loadConfig({ env: { ...base, REGISTRY_REDIS_ADDR: '/run/redis/redis.sock' } })).redis?.addr, '/run/redis/redis.sock');
  });

  test('bad values stop start-up with a message naming the key', async () => {
    await refused({ REGISTRY_REDIS_ADDR: 'localhost' }, 'redis.addr', 'host:port');
    await refused({ REGISTRY_REDIS_ADDR: ':6379' }, 'redis.addr', 'name the host');
    await refused({ REGISTRY_REDIS_ADDR: 'localhost:6379', REGISTRY_REDIS_TTL: '10ms' }, 'redis.ttl', 'at least 1s');
    await refused({ REGISTRY_REDIS_ADDR: 'localhost:6379', REGISTRY_REDIS_TLS_CERTIFICATE: '/c.pem' }, 'redis.tls.key');
    await refused({ REGISTRY_REDIS_PASSWORD: 'pw' }, 'redis.addr');
  });
});
