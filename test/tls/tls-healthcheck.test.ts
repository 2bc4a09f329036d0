import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, type BerthProcess } from '../helpers/berth-process';
import { freePort } from '../helpers/ports';
import { createCa, issue } from '../helpers/test-ca';
import { tlsFixture, type TlsFixture } from './tls-fixture';

// `berth healthcheck` (the image's HEALTHCHECK) when the listener requires client certificates.

let fixture: TlsFixture;
let berth: BerthProcess;
let env: Record<string, string>;

before(async () => {
  fixture = await tlsFixture('berth-tls-health-');
  berth = await fixture.start({ mutual: true });
  env = {
    REGISTRY_STORAGE: 'inmemory',
    REGISTRY_HTTP_ADDR: `127.0.0.1:${berth.port}`,
    REGISTRY_HTTP_TLS_CERTIFICATE: path.join(fixture.work, 'tls.crt'),
    REGISTRY_HTTP_TLS_KEY: path.join(fixture.work, 'tls.key'),
    REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(fixture.work, 'ca.pem')}]`,
  };
});
after(() => fixture.cleanup());

async function pair(name: string, ca = fixture.ca): Promise<string[]> {
  const issued = await issue(ca, name, { usage: 'client' });
  const cert = path.join(fixture.work, `${name}.crt`);
  const key = path.join(fixture.work, `${name}.key`);
  await writeFile(cert, issued.certPem);
  await writeFile(key, issued.keyPem);
  return ['--cert', cert, '--key', key];
}

describe('berth healthcheck with http.tls.clientcas', () => {
  test('without a client pair: healthy when the listener answers the handshake asking for a certificate', async () => {
    const r = await runBerth(['healthcheck'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^healthcheck: https://127\\.0\\.0\\.1:${berth.port}/healthz: ok \\(TLS handshake only: .*--cert and --key`, 'm'));
  });

  test('without a client pair: a stopped process is unhealthy (no handshake answer)', async () => {
    berth.proc.kill('SIGSTOP');
    try {
      const r = await runBerth(['healthcheck'], { env });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /no answer within/);
    } finally {
      berth.proc.kill('SIGCONT');
    }
  });

  test('with --cert and --key: /healthz itself answers', async () => {
    const r = await runBerth(['healthcheck', ...(await pair('prober'))], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^healthcheck: https://127\\.0\\.0\\.1:${berth.port}/healthz: ok$`, 'm'));
  });

  test('with a pair the listener refuses: unhealthy, saying so', async () => {
    const r = await runBerth(['healthcheck', ...(await pair('stranger', await createCa('other root')))], { env });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^healthcheck: https:.*: (ECONNRESET|socket hang up)/);
  });

  test('nothing listening: unhealthy', async () => {
    const r = await runBerth(['healthcheck'], { env: { ...env, REGISTRY_HTTP_ADDR: `127.0.0.1:${await freePort()}` } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ECONNREFUSED/);
  });

  test('--cert without --key is a usage error', async () => {
    const r = await runBerth(['healthcheck', '--cert', 'x.crt'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--cert and --key go together/);
  });
});
