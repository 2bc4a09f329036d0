import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load';

/** Loads a configuration from REGISTRY_* variables only. */
const fromEnv = (env: Record<string, string>) => loadConfig({ env });

async function refused(env: Record<string, string>, ...parts: string[]): Promise<void> {
  await assert.rejects(fromEnv(env), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes('\n'), err.message);
    for (const p of parts) assert.ok(err.message.includes(p), `"${err.message}" should mention "${p}"`);
    return true;
  });
}

const PAIR = { REGISTRY_HTTP_TLS_CERTIFICATE: '/certs/tls.crt', REGISTRY_HTTP_TLS_KEY: '/certs/tls.key' };

describe('http.tls configuration', () => {
  test('unset: no tls section, plain HTTP', async () => {
    assert.equal((await fromEnv({})).http.tls, undefined);
  });

  test('every key has its REGISTRY_HTTP_TLS_* override', async () => {
    const c = await fromEnv({
      ...PAIR,
      REGISTRY_HTTP_TLS_CLIENTCAS: '[/certs/ca-a.pem, /certs/ca-b.pem]',
      REGISTRY_HTTP_TLS_MINIMUMTLS: 'tls1.3',
      REGISTRY_HTTP_TLS_CIPHERSUITES: '[TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]',
      REGISTRY_HTTP_TLS_RELOADINTERVAL: '10s',
    });
    assert.deepEqual(c.http.tls, {
      certificate: '/certs/tls.crt',
      key: '/certs/tls.key',
      clientcas: ['/certs/ca-a.pem', '/certs/ca-b.pem'],
      minimumtls: 'tls1.3',
      ciphersuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'],
      reloadinterval: 10_000,
    });
  });

  test('defaults: TLS 1.2 and up', async () => {
    const c = await fromEnv(PAIR);
    assert.equal(c.http.tls?.minimumtls, 'tls1.2');
    assert.equal(c.http.tls?.ciphersuites, undefined);
  });

  test('a certificate without its key is refused', async () => {
    await refused({ REGISTRY_HTTP_TLS_CERTIFICATE: '/c.pem' }, 'http.tls.key', 'required with certificate');
  });

  test('a key, client CAs or cipher suites without a certificate are refused', async () => {
    await refused({ REGISTRY_HTTP_TLS_KEY: '/k.pem' }, 'http.tls.key', 'without certificate');
    await refused({ REGISTRY_HTTP_TLS_CLIENTCAS: '[/ca.pem]' }, 'http.tls.clientcas', 'without certificate');
  });

  test('TLS 1.0 and 1.1 and unknown versions are refused', async () => {
    await refused({ ...PAIR, REGISTRY_HTTP_TLS_MINIMUMTLS: 'tls1.1' }, 'http.tls.minimumtls (from REGISTRY_HTTP_TLS_MINIMUMTLS)', 'tls1.2 or tls1.3');
    await refused({ ...PAIR, REGISTRY_HTTP_TLS_MINIMUMTLS: 'TLSv1.2' }, 'http.tls.minimumtls', 'tls1.2 or tls1.3');
  });

  test('an unknown cipher suite is refused naming it; an OpenSSL name is not a Go name', async () => {
    await refused({ ...PAIR, REGISTRY_HTTP_TLS_CIPHERSUITES: '[TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ECDHE-RSA-AES128-GCM-SHA256]' }, 'http.tls.ciphersuites.1', 'unknown cipher suite "ECDHE-RSA-AES128-GCM-SHA256"');
  });

  test('a Distribution suite this OpenSSL lacks is refused rather than dropped', async () => {
    await refused({ ...PAIR, REGISTRY_HTTP_TLS_CIPHERSUITES: '[TLS_RSA_WITH_3DES_EDE_CBC_SHA]' }, 'http.tls.ciphersuites.0', 'not available');
  });

  test('an empty client CA variable means no client CAs (a compose default)', async () => {
    const c = await fromEnv({ ...PAIR, REGISTRY_HTTP_TLS_CLIENTCAS: '' });
    assert.equal(c.http.tls?.clientcas, undefined);
  });

  test('http.debug.tls needs the debug listener', async () => {
    await refused({ REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: '/c.pem', REGISTRY_HTTP_DEBUG_TLS_KEY: '/k.pem' }, 'http.debug.tls', 'without http.debug.addr');
    const c = await fromEnv({ REGISTRY_HTTP_DEBUG_ADDR: ':5001', REGISTRY_HTTP_DEBUG_TLS_CERTIFICATE: '/c.pem', REGISTRY_HTTP_DEBUG_TLS_KEY: '/k.pem' });
    assert.equal(c.http.debug.tls?.certificate, '/c.pem');
  });

  test('an empty client CA list is refused', async () => {
    await refused({ ...PAIR, REGISTRY_HTTP_TLS_CLIENTCAS: '[]' }, 'http.tls.clientcas');
  });
});
