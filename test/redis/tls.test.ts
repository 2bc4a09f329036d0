import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMemoryDriver } from '../../storage-drivers';
import { pushImage, repoName } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { capturingLogger } from '../faults/helpers';
import { startRedis, type RedisServer } from '../helpers/redis-server';
import { createCa, issue } from '../helpers/test-ca';
import { requireTools } from '../helpers/tools';
import { until } from '../workers/group';

/** Debian's redis-server is built with TLS: Berth reaches it over `redis.tls`, and says so when it cannot. */
describe('shared cache (redis) over TLS', { skip: requireTools(['redis-server']), timeout: 60_000 }, () => {
  let dir: string;
  let redis: RedisServer;
  /** The same Redis, asking clients for a certificate. */
  let mutual: RedisServer;
  const files: Record<'ca' | 'otherCa' | 'cert' | 'key' | 'clientCert' | 'clientKey', string> = { ca: '', otherCa: '', cert: '', key: '', clientCert: '', clientKey: '' };
  const started: TestRegistry[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-redis-tls-'));
    const ca = await createCa('redis test CA');
    const [server, client, other] = [await issue(ca, 'redis'), await issue(ca, 'berth', { usage: 'client' }), await createCa('some other CA')];
    const pems: Record<keyof typeof files, string> = { ca: ca.certPem, otherCa: other.certPem, cert: server.certPem, key: server.keyPem, clientCert: client.certPem, clientKey: client.keyPem };
    for (const [name, pem] of Object.entries(pems)) {
      files[name as keyof typeof files] = path.join(dir, `${name}.pem`);
      await writeFile(files[name as keyof typeof files], pem);
    }
    redis = await startRedis({ tls: { certificate: files.cert, key: files.key } });
    mutual = await startRedis({ tls: { certificate: files.cert, key: files.key, clientCa: files.ca } });
  });
  after(async () => {
    await Promise.all(started.map((r) => r.close()));
    await redis?.stop();
    await mutual?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A registry on `addr` with `tls`, and what it logs. */
  async function registry(addr: string, tls: Record<string, unknown>): Promise<{ reg: TestRegistry; logs: () => string[] }> {
    const { logger, text } = capturingLogger();
    const reg = await startRegistry({ driver: createMemoryDriver(), config: testConfig({ redis: { addr, tls } }), deps: { logger } });
    started.push(reg);
    return { reg, logs: text };
  }
  const redisState = async (reg: TestRegistry) => ((await reg.r().get('/readyz')).body as { redis?: string }).redis;
  const settled = (reg: TestRegistry) => until('redis up or down', async () => ['up', 'down'].includes(String(await redisState(reg))), 10_000);

  it('with the CA that signed Redis’s certificate: up, and the cache is filled over TLS', async () => {
    const { reg } = await registry(redis.tlsAddr!, { clientcas: [files.ca] });
    await settled(reg);
    assert.equal(await redisState(reg), 'up');
    const name = repoName('redis-tls');
    await pushImage(reg.r(), name, 'v1');
    assert.equal((await reg.r().head(`/v2/${name}/manifests/v1`).set('Accept', 'application/vnd.oci.image.manifest.v1+json')).status, 200);
    await until('the tag in Redis', async () => (await redis.command(`EXISTS berth:tags:${name}:v1`)).startsWith(':1'));
  });

  it('with a CA that did not sign it: down in /readyz (still ready), and the log names the certificate problem', async () => {
    const { reg, logs } = await registry(redis.tlsAddr!, { clientcas: [files.otherCa] });
    await settled(reg);
    const ready = await reg.r().get('/readyz');
    assert.equal(ready.status, 200, 'only a cache: the registry serves from storage');
    assert.equal((ready.body as { redis?: string }).redis, 'down');
    const said = logs().filter((l) => l.includes('redis: '));
    assert.equal(said.length, 1, said.join(''));
    assert.match(said[0], /certificate/i, `the log says why: ${said[0]}`);
    const name = repoName('redis-tls');
    const image = await pushImage(reg.r(), name, 'v1');
    assert.equal((await reg.r().head(`/v2/${name}/manifests/v1`).set('Accept', image.manifest.mediaType)).status, 200);
  });

  it('a Redis that asks for a client certificate: up with redis.tls.certificate and key, down without', async () => {
    const { reg } = await registry(mutual.tlsAddr!, { clientcas: [files.ca], certificate: files.clientCert, key: files.clientKey });
    const { reg: without, logs } = await registry(mutual.tlsAddr!, { clientcas: [files.ca] });
    await settled(reg);
    await settled(without);
    assert.equal(await redisState(reg), 'up');
    assert.equal(await redisState(without), 'down');
    assert.match(logs().filter((l) => l.includes('redis: ')).join(''), /certificate required/);
    // Refused only after the handshake, each connection looks ready for a moment: redialling must still back off.
    const dials = async () => Number(/total_connections_received:(\d+)/.exec(await mutual.command('INFO stats'))?.[1]);
    const before = await dials();
    await new Promise((r) => setTimeout(r, 1000));
    const made = (await dials()) - before;
    assert.ok(made < 20, `${made} connections in 1 s`);
    // Redis refuses the client after the TLS 1.3 handshake, with a command in flight: closing must not wait for its answer.
    started.splice(started.indexOf(without), 1);
    const closing = Date.now();
    await without.close();
    assert.ok(Date.now() - closing < 3000, `closed in ${Date.now() - closing} ms`);
  });
});
