import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createApp } from '../../src/app';
import { createMetrics } from '../../src/metrics/metrics';
import { createMemoryDriver } from '../../storage-drivers';
import { ACCESS_CONTROL, authConfig, authFixture, basic, USERS } from './helpers';

test('auth refusals are counted by reason: unauthenticated, denied', async () => {
  const fixture = await authFixture();
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({ config: authConfig({ htpasswd: { path: fixture.htpasswd }, accesscontrol: ACCESS_CONTROL }), driver: createMemoryDriver(), metrics });
  const server = http.createServer(app.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await app.ready();
    assert.equal((await fetch(`${url}/v2/private/app/tags/list`)).status, 401);
    assert.equal((await fetch(`${url}/v2/private/app/tags/list`, { headers: { Authorization: basic('alice', 'wrong') } })).status, 401);
    assert.equal((await fetch(`${url}/v2/private/app/tags/list`, { headers: { Authorization: basic('carol', USERS.carol) } })).status, 403);
    const count = async (reason: string) => (await metrics.authFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    assert.equal(await count('unauthenticated'), 2);
    assert.equal(await count('denied'), 1);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close();
    await fixture.cleanup();
  }
});
