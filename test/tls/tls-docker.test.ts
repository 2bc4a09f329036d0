import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { writeBuildContext } from '../helpers/images';
import type { Issued } from '../helpers/test-ca';
import { requireTools } from '../helpers/tools';
import { tlsFixture, type TlsFixture } from './tls-fixture';

/**
 * dockerd treats registries on loopback as insecure (it skips verification and ignores certs.d),
 * so the registry listens on this machine's first non-loopback IPv4 address. dockerd reads
 * certs.d only from /etc/docker/certs.d; each test's directory is named after its own port and
 * removed afterwards.
 */
function externalAddress(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

const ip = externalAddress();
const skip = requireTools(['dockerd', 'docker', 'busybox'], { root: true }) || (ip === undefined && 'no non-loopback IPv4 address');
const CERTS_D = '/etc/docker/certs.d';

describe('docker over HTTPS with the CA in certs.d', { skip, timeout: 600_000 }, () => {
  let tls: TlsFixture;
  let dockerd: Dockerd | undefined;
  const certDirs: string[] = [];

  before(async () => {
    tls = await tlsFixture('berth-tls-docker-', { ips: [ip!] });
    await writeBuildContext(path.join(tls.work, 'ctx'), 'hello over tls');
    dockerd = await startDockerd();
  });
  after(async () => {
    await dockerd?.stop();
    for (const d of certDirs) await rm(d, { recursive: true, force: true });
    await tls?.cleanup();
  });

  const registry = async (mutual: boolean) => `${ip}:${(await tls.start({ mutual, host: ip })).port}`;

  async function trust(host: string, client?: Issued): Promise<void> {
    const d = path.join(CERTS_D, host);
    certDirs.push(d);
    await mkdir(d, { recursive: true });
    await writeFile(path.join(d, 'ca.crt'), tls.ca.certPem);
    if (client) {
      await writeFile(path.join(d, 'client.cert'), client.certPem);
      await writeFile(path.join(d, 'client.key'), client.keyPem);
    }
  }

  const docker = (...args: string[]) => dockerd!.docker(args);

  test('an untrusted registry is refused; with its CA in certs.d push, rmi and pull work', async () => {
    const host = await registry(false);
    const ref = `${host}/tls/hello:v1`;
    await docker('build', '--quiet', '--tag', ref, path.join(tls.work, 'ctx'));
    await assert.rejects(docker('push', ref), /x509|certificate/i);
    await trust(host);
    assert.match(await docker('push', ref), /v1: digest: sha256:/);
    await docker('rmi', ref);
    assert.match(await docker('pull', ref), /Digest: sha256:/);
  });

  test('mutual TLS: docker presents client.cert from certs.d; without it the push is refused', async () => {
    const host = await registry(true);
    const ref = `${host}/tls/mutual:v1`;
    await docker('build', '--quiet', '--tag', ref, path.join(tls.work, 'ctx'));
    await trust(host);
    await assert.rejects(docker('push', ref), /certificate required|bad certificate|tls|remote error/i);
    await trust(host, await tls.client('docker client'));
    assert.match(await docker('push', ref), /v1: digest: sha256:/);
  });
});
