import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { writeBuildContext } from '../helpers/images';
import { startNetSandbox, type NetSandbox } from '../helpers/net-sandbox';
import type { Issued } from '../helpers/test-ca';
import { requireTools } from '../helpers/tools';
import { tlsFixture, type TlsFixture } from './tls-fixture';

/**
 * dockerd treats registries in 127.0.0.0/8 as insecure: it skips certificate verification and reads
 * no certs.d for them, so a CA test on 127.0.0.1 would prove nothing. dockerd and Berth therefore run
 * in a private network namespace whose `lo` also carries ADDRESS (TEST-NET-1, RFC 5737): the traffic
 * never leaves that loopback device, yet dockerd verifies as for any remote registry. dockerd's
 * certs.d is fixed at /etc/docker/certs.d, so the sandbox's mount namespace has a scratch directory
 * over /etc/docker: the host's is neither read nor written.
 */
const ADDRESS = '192.0.2.10';
const ETC_DOCKER = '/etc/docker';
const skip =
  requireTools(['dockerd', 'docker', 'busybox', 'unshare', 'nsenter', 'ip'], { root: true }) ||
  (!existsSync(ETC_DOCKER) && `${ETC_DOCKER} does not exist to mount over`);

describe('docker over HTTPS with the CA in certs.d', { skip, timeout: 600_000 }, () => {
  let tls: TlsFixture;
  let sandbox: NetSandbox | undefined;
  let dockerd: Dockerd | undefined;
  let etcDocker: string;
  let hostEtcDocker: string[];

  before(async () => {
    hostEtcDocker = await readdir(ETC_DOCKER);
    tls = await tlsFixture('berth-tls-docker-', { ips: [ADDRESS] });
    etcDocker = path.join(tls.work, 'etc-docker');
    await mkdir(etcDocker);
    await writeBuildContext(path.join(tls.work, 'ctx'), 'hello over tls');
    sandbox = await startNetSandbox({ address: ADDRESS, binds: [{ source: etcDocker, target: ETC_DOCKER }] });
    dockerd = await startDockerd({ prefix: sandbox.prefix });
  });
  after(async () => {
    await dockerd?.stop();
    await sandbox?.stop();
    await tls?.cleanup();
  });

  const registry = async (mutual: boolean) =>
    `${ADDRESS}:${(await tls.start({ mutual, host: ADDRESS, prefix: sandbox!.prefix })).port}`;

  async function trust(host: string, client?: Issued): Promise<void> {
    const d = path.join(etcDocker, 'certs.d', host);
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
    await assert.rejects(docker('push', ref), /x509: certificate signed by unknown authority/);
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
    await assert.rejects(docker('push', ref), /tls: certificate required/);
    await trust(host, await tls.client('docker client'));
    assert.match(await docker('push', ref), /v1: digest: sha256:/);
  });

  test("the host's /etc/docker is left as it was: the certificates went to the sandbox's", async () => {
    assert.deepEqual(await readdir(ETC_DOCKER), hostEtcDocker);
    assert.ok((await readdir(path.join(etcDocker, 'certs.d'))).length >= 2);
  });
});
