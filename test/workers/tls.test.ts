import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BerthProcess } from '../helpers/berth-process';
import { createCa, issue, type Issued } from '../helpers/test-ca';
import { h2Connect, h2Request } from '../tls/h2-client';
import { eventually, httpsRequest, type TlsResponse } from '../tls/tls-client';
import { logLines, startGroup, workerOf } from './group';

async function writePair(where: string, pair: Issued): Promise<void> {
  await writeFile(path.join(where, 'tls.crt'), pair.certPem);
  await writeFile(path.join(where, 'tls.key'), pair.keyPem);
}

describe('http.workers with TLS', { timeout: 120_000 }, () => {
  let dir: string;
  let ca: Issued;
  let berth: BerthProcess;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-workers-tls-'));
    ca = await createCa('workers root');
  });
  after(async () => {
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('both workers serve HTTPS and HTTP/2, and a new certificate reaches both', async () => {
    const certs = path.join(dir, 'certs');
    await mkdir(certs);
    const first = await issue(ca, 'workers one');
    const second = await issue(ca, 'workers two');
    await writePair(certs, first);
    berth = await startGroup(path.join(dir, 'store'), 2, {
      REGISTRY_HTTP_TLS_CERTIFICATE: path.join(certs, 'tls.crt'),
      REGISTRY_HTTP_TLS_KEY: path.join(certs, 'tls.key'),
      REGISTRY_HTTP_TLS_RELOADINTERVAL: '200ms',
    });
    assert.ok(berth.url.startsWith('https://'), 'the group says it serves TLS');
    const group = berth;
    /** A request on each of 8 new connections: the served fingerprints, by worker. */
    const byWorker = async (): Promise<Map<number, Set<string>>> => {
      const answers: TlsResponse[] = await Promise.all(Array.from({ length: 8 }, () => httpsRequest(`${group.url}/v2/`, { ca: ca.certPem })));
      const seen = new Map<number, Set<string>>();
      for (const a of answers) {
        assert.equal(a.status, 200);
        const slot = await workerOf(group, a.headers['x-request-id'] as string);
        seen.set(slot, (seen.get(slot) ?? new Set()).add(a.peerFingerprint));
      }
      return seen;
    };
    let seen = await byWorker();
    assert.deepEqual([...seen.keys()].sort(), [0, 1]);
    for (const fingerprints of seen.values()) assert.deepEqual([...fingerprints], [first.fingerprint256]);

    const session = await h2Connect(group.url, { ca: ca.certPem });
    try {
      const h2 = await h2Request(session, '/v2/');
      assert.equal(h2.status, 200);
      await workerOf(group, h2.headers['x-request-id'] as string);
      assert.equal(logLines(group).find((l) => l.reqId === h2.headers['x-request-id'])?.httpVersion, '2.0');
    } finally {
      session.close();
    }

    await writePair(certs, second);
    await eventually('both workers to reload', () => new Set(logLines(group).filter((l) => l.msg === 'tls certificate reloaded').map((l) => l.worker)).size === 2);
    seen = await byWorker();
    assert.deepEqual([...seen.keys()].sort(), [0, 1]);
    for (const fingerprints of seen.values()) assert.deepEqual([...fingerprints], [second.fingerprint256]);
  });
});
