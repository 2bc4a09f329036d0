import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { pushImage, repoName, throwingDriver } from './helpers';
import { startRegistry, testConfig, type TestRegistry } from './server';

/** A driver whose stat never answers, as a hung storage backend would. */
function hangingDriver(inner: StorageDriver): StorageDriver {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'stat') return () => new Promise(() => undefined);
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

function failingDriver(inner: StorageDriver): StorageDriver {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'stat') return () => Promise.reject(new Error('EIO: secret backend detail'));
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

describe('health endpoints', () => {
  it('liveness and readiness answer 200 JSON on a working store, without registry headers getting in the way', async () => {
    const reg = await startRegistry();
    try {
      const live = await fetch(`${reg.url}/healthz`);
      assert.equal(live.status, 200);
      assert.deepEqual(await live.json(), { status: 'ok' });
      const ready = await fetch(`${reg.url}/readyz`);
      assert.equal(ready.status, 200);
      const body = (await ready.json()) as { status: string; storage: string };
      assert.equal(body.status, 'ready');
      assert.equal(body.storage, 'memory');
    } finally {
      await reg.close();
    }
  });

  it('readiness is 503 when storage hangs past the timeout or fails, and never leaks the backend error', async () => {
    for (const driver of [hangingDriver(createMemoryDriver()), failingDriver(createMemoryDriver())]) {
      const reg = await startRegistry({ driver });
      try {
        const started = Date.now();
        const ready = await fetch(`${reg.url}/readyz`);
        assert.equal(ready.status, 503);
        const text = await ready.text();
        assert.ok(!text.includes('secret backend detail'), text);
        assert.equal((JSON.parse(text) as { status: string }).status, 'unready');
        assert.ok(Date.now() - started < 10_000);
        assert.equal((await fetch(`${reg.url}/healthz`)).status, 200, 'liveness does not depend on storage');
      } finally {
        await reg.close();
      }
    }
  });

  it('with redis configured, every readiness answer says how the shared cache is: 503s as well as 200s', async () => {
    // No Redis behind the address: it reads "starting" or "down", never absent.
    const config = testConfig({ redis: { addr: '/nonexistent/berth-redis.sock' } });
    const faulty = throwingDriver(createMemoryDriver());
    const cases: Array<[string, StorageDriver, number, (reg: TestRegistry) => Promise<unknown>]> = [
      ['a working store', createMemoryDriver(), 200, async () => undefined],
      ['a store that hangs', hangingDriver(createMemoryDriver()), 503, async () => undefined],
      ['a store that fails', failingDriver(createMemoryDriver()), 503, async () => undefined],
      [
        'a storage fault a request met',
        faulty.driver,
        503,
        (reg) => {
          faulty.setFailing({ errno: 'EIO' });
          return pushImage(reg.r(), repoName(), 'v1').catch(() => undefined);
        },
      ],
    ];
    for (const [what, driver, status, before] of cases) {
      const reg = await startRegistry({ driver, config });
      try {
        await before(reg);
        const ready = await fetch(`${reg.url}/readyz`);
        assert.equal(ready.status, status, what);
        const body = (await ready.json()) as { storage?: string; redis?: string };
        assert.equal(typeof body.storage, 'string', `${what}: ${JSON.stringify(body)}`);
        assert.match(String(body.redis), /^(starting|down)$/, `${what}: ${JSON.stringify(body)}`);
      } finally {
        faulty.setFailing('off');
        await reg.close();
      }
    }
  });
});
