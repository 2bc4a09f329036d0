import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { writeBuildContext } from '../helpers/images';
import { createCa, issue, type Issued } from '../helpers/test-ca';
import { requireTools } from '../helpers/tools';

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
  let work: string;
  let dockerd: Dockerd | undefined;
  let ca: Issued;
  const running: BerthProcess[] = [];
  const certDirs: string[] = [];

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-tls-docker-'));
    ca = await createCa('docker root');
    const server = await issue(ca, 'registry', { ips: [ip!] });
    await writeFile(path.join(work, 'tls.crt'), server.certPem);
    await writeFile(path.join(work, 'tls.key'), server.keyPem);
    await writeFile(path.join(work, 'ca.pem'), ca.certPem);
    await writeBuildContext(path.join(work, 'ctx'), 'hello over tls');
    dockerd = await startDockerd();
  });
  after(async () => {
    await dockerd?.stop();
    for (const p of running) await p.stop('SIGKILL');
    for (const d of certDirs) await rm(d, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  async function registry(mutual: boolean): Promise<string> {
    const berth = await startBerthProcess({
      env: {
        REGISTRY_STORAGE: 'inmemory',
        REGISTRY_HTTP_ADDR: `${ip}:0`,
        REGISTRY_HTTP_TLS_CERTIFICATE: path.join(work, 'tls.crt'),
        REGISTRY_HTTP_TLS_KEY: path.join(work, 'tls.key'),
        ...(mutual ? { REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(work, 'ca.pem')}]` } : {}),
      },
    });
    running.push(berth);
    return `${ip}:${berth.port}`;
  }

  async function trust(host: string, client?: Issued): Promise<void> {
    const d = path.join(CERTS_D, host);
    certDirs.push(d);
    await mkdir(d, { recursive: true });
    await writeFile(path.join(d, 'ca.crt'), ca.certPem);
    if (client) {
      await writeFile(path.join(d, 'client.cert'), client.certPem);
      await writeFile(path.join(d, 'client.key'), client.keyPem);
    }
  }

  const docker = (...args: string[]) => dockerd!.docker(args);
  const fails = (...args: string[]) => assert.rejects(docker(...args));

  test('an untrusted registry is refused; with its CA in certs.d push, rmi and pull work', async () => {
    const host = await registry(false);
    const ref = `${host}/tls/hello:v1`;
    await docker('build', '--quiet', '--tag', ref, path.join(work, 'ctx'));
    await assert.rejects(docker('push', ref), /x509|certificate/i);
    await trust(host);
    assert.match(await docker('push', ref), /v1: digest: sha256:/);
    await docker('rmi', ref);
    assert.match(await docker('pull', ref), /Digest: sha256:/);
  });

  test('mutual TLS: docker presents client.cert from certs.d; without it the push is refused', async () => {
    const host = await registry(true);
    const ref = `${host}/tls/mutual:v1`;
    await docker('build', '--quiet', '--tag', ref, path.join(work, 'ctx'));
    await trust(host);
    await fails('push', ref);
    await trust(host, await issue(ca, 'docker client', { usage: 'client' }));
    assert.match(await docker('push', ref), /v1: digest: sha256:/);
  });
});
