import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { createCa, issue } from '../helpers/test-ca';
import { tlsFixture, type TlsFixture } from '../tls/tls-fixture';
import { UpstreamClient } from '../../src/mirror/upstream-client';
import { captureLogger, collect, rejectsWith, seedUpstream, type Seeded } from './helpers';
import { startFake } from './fake-upstream';

/* The upstream client against a Berth process serving HTTPS with a certificate from a test CA. */

let fx: TlsFixture;
let url = '';
let seed: Seeded;

before(async () => {
  fx = await tlsFixture('berth-upstream-tls-');
  url = (await fx.start()).url;
  seed = await seedUpstream(request.agent(url).ca(fx.ca.certPem), 'tls/app');
});

after(async () => {
  await fx?.cleanup();
});

describe('upstream client over TLS', () => {
  test('trusts the upstream given its CA, as PEM text or as a file', async (t) => {
    for (const opts of [{ caPem: fx.ca.certPem }, { caFile: path.join(fx.work, 'ca.pem') }]) {
      const client = new UpstreamClient({ url, logger: captureLogger().logger, ...opts });
      t.after(() => client.close());
      assert.deepEqual(await client.ping(), { auth: 'none' });
      assert.equal((await client.headManifest('tls/app', 'multi'))?.digest, seed.index.digest);
      assert.deepEqual(await collect((await client.getBlob('tls/app', seed.image.layer.digest)).stream), seed.image.layer.data);
    }
  });

  test('refuses an upstream whose CA it does not know (or another CA), unless insecure', async (t) => {
    const other = await createCa('some other root');
    for (const opts of [{}, { caPem: other.certPem }]) {
      const client = new UpstreamClient({ url, logger: captureLogger().logger, ...opts });
      t.after(() => client.close());
      const err = await rejectsWith(client.getManifest('tls/app', 'v1'), 'unavailable');
      assert.match(err.message, /certificate/i);
    }
    const insecure = new UpstreamClient({ url, insecure: true, logger: captureLogger().logger });
    t.after(() => insecure.close());
    assert.deepEqual((await insecure.getManifest('tls/app', 'v1')).bytes, seed.image.manifest.data);
  });

  test('insecure covers the upstream only: a redirect to another host with an unknown certificate is refused', async (t) => {
    const strangerCa = await createCa('stranger root');
    const leaf = await issue(strangerCa, 'storage', { ips: ['127.0.0.2'] });
    const storage = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => res.end('bytes'));
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.2', resolve));
    t.after(() => new Promise<void>((resolve) => storage.close(() => resolve())));
    const storageUrl = `https://127.0.0.2:${(storage.address() as AddressInfo).port}`;
    const digest = `sha256:${'b'.repeat(64)}`;
    const upstream = await startFake((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      res.writeHead(307, { location: `${storageUrl}/blob` }).end();
    });
    t.after(() => upstream.close());
    const client = new UpstreamClient({ url: upstream.url, insecure: true, logger: captureLogger().logger });
    t.after(() => client.close());
    assert.match((await rejectsWith(client.getBlob('r', digest), 'unavailable')).message, /certificate/i);
    const trusting = new UpstreamClient({ url: upstream.url, caPem: strangerCa.certPem, logger: captureLogger().logger });
    t.after(() => trusting.close());
    assert.equal((await collect((await trusting.getBlob('r', digest)).stream)).toString(), 'bytes');
  });
});
