import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runBerth, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { freePort } from '../helpers/ports';
import { createCa, issue, type Issued } from '../helpers/test-ca';
import { httpsRequest } from './tls-client';

let dir: string;
let ca: Issued;
let server: Issued;
let otherCa: Issued;
const running: BerthProcess[] = [];

async function file(name: string, text: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, text);
  return f;
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-tls-'));
  ca = await createCa('test root');
  otherCa = await createCa('other root');
  server = await issue(ca, 'registry');
  await file('server.crt', server.certPem);
  await file('server.key', server.keyPem);
  await file('ca.pem', ca.certPem);
});
after(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REGISTRY_STORAGE: 'inmemory',
    REGISTRY_HTTP_TLS_CERTIFICATE: path.join(dir, 'server.crt'),
    REGISTRY_HTTP_TLS_KEY: path.join(dir, 'server.key'),
    ...extra,
  };
}

async function started(env: Record<string, string>): Promise<BerthProcess> {
  const p = await startBerthProcess({ env });
  running.push(p);
  return p;
}

/** Runs `berth serve` expecting it to stop at start-up; returns its one-line complaint. */
async function startupFailure(env: Record<string, string>): Promise<string> {
  const run = await runBerth(['serve'], { env: { REGISTRY_HTTP_ADDR: '127.0.0.1:0', ...env }, cwd: dir });
  assert.equal(run.code, 1, `exit code; stderr: ${run.stderr} stdout: ${run.stdout}`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  return lines[0];
}

describe('HTTPS listener', () => {
  test('serves the API over TLS with the configured certificate; plain HTTP gets no API', async () => {
    const berth = await started(tlsEnv());
    assert.match(berth.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem });
    assert.equal(res.status, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(res.peerFingerprint, server.fingerprint256);
    const plain = await new Promise<number | Error>((resolve) =>
      http.get(`http://127.0.0.1:${berth.port}/v2/`, { agent: false }, (r) => resolve(r.statusCode ?? 0)).on('error', resolve),
    );
    assert.notEqual(plain, 200, 'no registry answer over plain HTTP');
  });

  test('Location of an upload is an https URL when the request came over TLS', async () => {
    const berth = await started(tlsEnv());
    const res = await httpsRequest(`${berth.url}/v2/tls/loc/blobs/uploads/`, { ca: ca.certPem, method: 'POST' });
    assert.equal(res.status, 202, res.body);
    assert.match(String(res.headers.location), new RegExp(`^https://127\\.0\\.0\\.1:${berth.port}/v2/tls/loc/blobs/uploads/`));
  });

  test('the token realm of the built-in token server is https when the request came over TLS', async () => {
    const htpasswd = await file('htpasswd', '');
    const berth = await started(tlsEnv({ REGISTRY_AUTH_HTPASSWD_PATH: htpasswd, REGISTRY_AUTH_TOKEN_SERVICE: 'berth' }));
    const res = await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem });
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), new RegExp(`^Bearer realm="https://127\\.0\\.0\\.1:${berth.port}/auth/token"`));
  });

  test('minimumtls tls1.3 refuses a TLS 1.2 client', async () => {
    const berth = await started(tlsEnv({ REGISTRY_HTTP_TLS_MINIMUMTLS: 'tls1.3' }));
    assert.equal((await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem })).status, 200);
    await assert.rejects(httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem, maxVersion: 'TLSv1.2' }), /protocol version|alert/i);
  });

  test('ciphersuites restrict TLS 1.2 to the listed suites', async () => {
    // An ECDSA certificate: only ECDHE_ECDSA suites can serve it, so listing only an RSA one leaves TLS 1.2 nothing.
    const berth = await started(tlsEnv({ REGISTRY_HTTP_TLS_CIPHERSUITES: '[TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]' }));
    await assert.rejects(httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem, maxVersion: 'TLSv1.2' }), /handshake|alert|cipher/i);
    assert.equal((await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem })).status, 200, 'TLS 1.3 is unaffected, as in Distribution');
    const ecdsa = await started(tlsEnv({ REGISTRY_HTTP_TLS_CIPHERSUITES: '[TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]' }));
    assert.equal((await httpsRequest(`${ecdsa.url}/v2/`, { ca: ca.certPem, maxVersion: 'TLSv1.2' })).status, 200);
  });
});

describe('TLS start-up failures name the key', () => {
  test('a missing certificate file', async () => {
    const line = await startupFailure(tlsEnv({ REGISTRY_HTTP_TLS_CERTIFICATE: path.join(dir, 'absent.crt') }));
    assert.match(line, /^http\.tls\.certificate: cannot read .*absent\.crt: no such file$/);
  });

  test('a key file that holds no key', async () => {
    const line = await startupFailure(tlsEnv({ REGISTRY_HTTP_TLS_KEY: await file('garbage.key', 'not a key\n') }));
    assert.match(line, /^http\.tls\.key: .*garbage\.key holds no usable PEM private key/);
  });

  test('a certificate file that holds no certificate', async () => {
    const line = await startupFailure(tlsEnv({ REGISTRY_HTTP_TLS_CERTIFICATE: path.join(dir, 'server.key') }));
    assert.match(line, /^http\.tls\.certificate: .*server\.key holds no PEM certificate$/);
  });

  test('a key that is not the certificate\'s', async () => {
    const stranger = await issue(ca, 'stranger');
    const line = await startupFailure(tlsEnv({ REGISTRY_HTTP_TLS_KEY: await file('stranger.key', stranger.keyPem) }));
    assert.match(line, /^http\.tls\.key: .*stranger\.key is not the key of the certificate in .*server\.crt/);
  });

  test('a client CA file that is unreadable or holds no certificate', async () => {
    assert.match(await startupFailure(tlsEnv({ REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(dir, 'no-ca.pem')}]` })), /^http\.tls\.clientcas: cannot read .*no-ca\.pem/);
    assert.match(await startupFailure(tlsEnv({ REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(dir, 'server.key')}]` })), /^http\.tls\.clientcas: .*holds no PEM certificate/);
  });

  test('config check validates the keys', async () => {
    const bad = await runBerth(['config', 'check'], { env: tlsEnv({ REGISTRY_HTTP_TLS_CIPHERSUITES: '[TLS_FOO]' }), cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /http\.tls\.ciphersuites\.0 \(from REGISTRY_HTTP_TLS_CIPHERSUITES\): unknown cipher suite "TLS_FOO"/);
    const good = await runBerth(['config', 'check'], { env: tlsEnv({ REGISTRY_HTTP_TLS_MINIMUMTLS: 'tls1.3' }), cwd: dir });
    assert.equal(good.code, 0, good.stderr);
    assert.equal((JSON.parse(good.stdout) as { http: { tls: { minimumtls: string } } }).http.tls.minimumtls, 'tls1.3');
  });
});

describe('mutual TLS (http.tls.clientcas)', () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await started(tlsEnv({ REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(dir, 'ca.pem')}]` }));
  });

  test('a client certificate signed by a listed CA is served', async () => {
    const client = await issue(ca, 'builder', { usage: 'client' });
    const res = await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem, cert: client.certPem, key: client.keyPem });
    assert.equal(res.status, 200);
  });

  test('no client certificate: refused', async () => {
    await assert.rejects(httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem }), /certificate required/i);
  });

  // Node ends a handshake whose client certificate fails verification by closing the connection,
  // with no alert: the client sees a reset. The good certificate above, made the same way, passes.
  test('a certificate from another CA: refused', async () => {
    const foreign = await issue(otherCa, 'intruder', { usage: 'client' });
    await assert.rejects(httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem }), /ECONNRESET|socket hang up/);
  });

  test('an expired client certificate: refused', async () => {
    const expired = await issue(ca, 'old builder', { usage: 'client', notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    await assert.rejects(httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem, cert: expired.certPem, key: expired.keyPem }), /ECONNRESET|socket hang up/);
  });
});

describe('berth healthcheck with http.tls', () => {
  test('probes /healthz over HTTPS on loopback (the certificate names the public host, so it is not verified)', async () => {
    const port = await freePort();
    // A certificate for another name: what a production certificate looks like from loopback.
    const elsewhere = await issue(otherCa, 'registry.example.com');
    const env = tlsEnv({
      REGISTRY_HTTP_ADDR: `:${port}`,
      REGISTRY_HTTP_TLS_CERTIFICATE: await file('elsewhere.crt', elsewhere.certPem),
      REGISTRY_HTTP_TLS_KEY: await file('elsewhere.key', elsewhere.keyPem),
    });
    await started(env);
    const r = await runBerth(['healthcheck'], { env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^healthcheck: https://127\\.0\\.0\\.1:${port}/healthz: ok$`, 'm'));
  });
});

describe('debug listener TLS (http.debug.tls)', () => {
  test('/metrics is served over HTTPS with its own certificate, and its own client CAs', async () => {
    const port = await freePort();
    const debugServer = await issue(otherCa, 'metrics');
    const scraper = await issue(otherCa, 'prometheus', { usage: 'client' });
    const berth = await started(
      tlsEnv({
        REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${port}`,
        REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: await file('metrics.crt', debugServer.certPem),
        REGISTRY_HTTP_DEBUG_TLS_KEY: await file('metrics.key', debugServer.keyPem),
        REGISTRY_HTTP_DEBUG_TLS_CLIENTCAS: `[${await file('other-ca.pem', otherCa.certPem)}]`,
      }),
    );
    assert.equal((await httpsRequest(`${berth.url}/v2/`, { ca: ca.certPem })).status, 200, 'the registry keeps its own certificate');
    const metrics = await httpsRequest(`https://127.0.0.1:${port}/metrics`, { ca: otherCa.certPem, cert: scraper.certPem, key: scraper.keyPem });
    assert.equal(metrics.status, 200);
    assert.equal(metrics.peerFingerprint, debugServer.fingerprint256);
    assert.match(metrics.body, /berth_/);
    await assert.rejects(httpsRequest(`https://127.0.0.1:${port}/metrics`, { ca: otherCa.certPem }), /certificate required/i);
  });

  test('a bad debug key fails start-up naming http.debug.tls.key', async () => {
    const port = await freePort();
    const line = await startupFailure(
      tlsEnv({
        REGISTRY_HTTP_DEBUG_ADDR: `127.0.0.1:${port}`,
        REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: path.join(dir, 'server.crt'),
        REGISTRY_HTTP_DEBUG_TLS_KEY: await file('debug-garbage.key', 'nope\n'),
      }),
    );
    assert.match(line, /^http\.debug\.tls\.key: .*debug-garbage\.key holds no usable PEM private key/);
  });
});
