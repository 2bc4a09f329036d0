import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https, { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { createCa, issue, type Issued } from '../helpers/test-ca';
import { eventually, httpsRequest, servedFingerprint } from './tls-client';

let dir: string;
let ca: Issued;
const running: BerthProcess[] = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-tls-rotation-'));
  ca = await createCa('rotation root');
});
after(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function writePair(where: string, pair: Issued): Promise<void> {
  await mkdir(where, { recursive: true });
  await writeFile(path.join(where, 'tls.crt'), pair.certPem);
  await writeFile(path.join(where, 'tls.key'), pair.keyPem);
}

async function started(certDir: string, reloadInterval: string): Promise<BerthProcess> {
  const p = await startBerthProcess({
    env: {
      REGISTRY_STORAGE: 'inmemory',
      REGISTRY_HTTP_TLS_CERTIFICATE: path.join(certDir, 'tls.crt'),
      REGISTRY_HTTP_TLS_KEY: path.join(certDir, 'tls.key'),
      REGISTRY_HTTP_TLS_RELOADINTERVAL: reloadInterval,
    },
  });
  running.push(p);
  return p;
}

describe('certificate rotation without a restart', () => {
  test('files rewritten in place: a half-written pair keeps the old certificate; the whole pair is served to new connections while a kept-alive one goes on', async () => {
    const certDir = path.join(dir, 'in-place');
    const first = await issue(ca, 'registry one');
    const second = await issue(ca, 'registry two');
    await writePair(certDir, first);
    // An hour: only file-system events can bring the change in time.
    const berth = await started(certDir, '1h');
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.certPem });
    try {
      const before = await httpsRequest(`${berth.url}/v2/`, { agent });
      assert.equal(before.peerFingerprint, first.fingerprint256);

      // The certificate lands before its key, as a non-atomic writer would leave it for a moment.
      await writeFile(path.join(certDir, 'tls.crt'), second.certPem);
      await eventually('the warning about a pair that does not load', () => berth.logs().includes('still serving the previous certificate'));
      assert.equal(await servedFingerprint(berth.port, ca.certPem), first.fingerprint256);

      await writeFile(path.join(certDir, 'tls.key'), second.keyPem);
      await eventually('the new certificate on a new connection', async () => (await servedFingerprint(berth.port, ca.certPem)) === second.fingerprint256);
      assert.match(berth.logs(), /tls certificate reloaded/);

      const kept = await httpsRequest(`${berth.url}/v2/`, { agent });
      assert.equal(kept.status, 200);
      assert.equal(kept.localPort, before.localPort, 'the same connection was reused');
      assert.equal(kept.peerFingerprint, first.fingerprint256, 'an open connection keeps the certificate it was opened with');
      const fresh = await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem });
      assert.equal(fresh.peerFingerprint, second.fingerprint256);
    } finally {
      agent.destroy();
    }
  });

  test('a blob pull in flight during a rotation completes', async () => {
    const certDir = path.join(dir, 'in-flight');
    const first = await issue(ca, 'registry f1');
    const second = await issue(ca, 'registry f2');
    await writePair(certDir, first);
    const berth = await started(certDir, '1h');
    const blob = randomBytes(32 * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const pushed = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${berth.url}/v2/tls/flight/blobs/uploads/?digest=${digest}`, { method: 'POST', ca: ca.certPem, agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': blob.length } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(blob);
    });
    assert.equal(pushed, 201);

    const pulled = new Promise<{ bytes: Buffer; peer: string }>((resolve, reject) => {
      https
        .get(`${berth.url}/v2/tls/flight/blobs/${digest}`, { ca: ca.certPem, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          let rotated = false;
          const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            if (rotated) return;
            rotated = true;
            // Stop reading after the first chunk; the rest waits in the server until the new pair is served.
            res.pause();
            void (async () => {
              await writePair(certDir, second);
              await eventually('the new certificate', async () => (await servedFingerprint(berth.port, ca.certPem)) === second.fingerprint256);
              res.resume();
            })().catch(reject);
          });
          res.on('end', () => resolve({ bytes: Buffer.concat(chunks), peer }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    const { bytes, peer } = await pulled;
    assert.equal(peer, first.fingerprint256);
    assert.equal(bytes.length, blob.length);
    assert.ok(bytes.equals(blob), 'the blob arrived whole');
  });

  test('a Kubernetes-style swap of the directory link is caught by the periodic check', async () => {
    // The configured paths go through a link that is re-pointed at a new directory: the watched
    // directory itself never changes, so only the periodic stat can see it.
    const first = await issue(ca, 'registry k1');
    const second = await issue(ca, 'registry k2');
    await writePair(path.join(dir, 'k8s', 'v1'), first);
    await writePair(path.join(dir, 'k8s', 'v2'), second);
    const current = path.join(dir, 'k8s', 'current');
    await symlink('v1', current);
    const berth = await started(current, '300ms');
    assert.equal(await servedFingerprint(berth.port, ca.certPem), first.fingerprint256);

    await symlink('v2', current + '.new');
    await rename(current + '.new', current);
    await eventually('the new certificate after the link swap', async () => (await servedFingerprint(berth.port, ca.certPem)) === second.fingerprint256);
  });
});
