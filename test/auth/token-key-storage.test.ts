import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { libtrustKeyId } from '../../auth/keys';
import { paths } from '../../src/oci/paths';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import { runBerth } from '../helpers/berth-process';
import { authConfig, authFixture, header, startAuthRegistry, tokenFor, type AuthFixture } from './helpers';
import { selfSigned } from './keys';

const KEY = paths.tokenSigningKey();
const CERT = paths.tokenSigningCertificate();

async function pingStatus(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/v2/`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** A key and certificate as an earlier Berth generated them: two PEM files, the key alone in token.key. */
async function legacyPair(dir: string): Promise<string> {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'token.key'), key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(path.join(dir, 'token.crt'), (await selfSigned(key, 'berth token signer')).pem);
  return libtrustKeyId(key);
}

describe('the token signing key lives in storage', () => {
  let fx: AuthFixture;
  before(async () => {
    fx = await authFixture();
  });
  after(() => fx?.cleanup());
  const tokenAuth = (server: Record<string, unknown> = {}) => ({ htpasswd: { path: fx.htpasswd }, token: { server: { keytype: 'ec' as const, ...server } } });

  test('a generated key is written through the driver, and a second registry on the same storage signs and verifies with it', async () => {
    const driver = createMemoryDriver();
    const first = await startAuthRegistry(authConfig(tokenAuth()), driver);
    const second = await startAuthRegistry(authConfig(tokenAuth()), driver);
    try {
      const t1 = await tokenFor(first.url, 'alice', []);
      const stored = (await driver.getContent(KEY)).toString();
      assert.match(stored, /-----BEGIN PRIVATE KEY-----[\s\S]+-----BEGIN CERTIFICATE-----/, 'the key with its certificate, in one object');
      assert.match((await driver.getContent(CERT)).toString(), /^-----BEGIN CERTIFICATE-----[^]+-----END CERTIFICATE-----\n$/);
      const t2 = await tokenFor(second.url, 'alice', []);
      assert.equal(header(t2).kid, header(t1).kid);
      assert.equal(await pingStatus(second.url, t1), 200);
      assert.equal(await pingStatus(first.url, t2), 200);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('filesystem: the key file is readable by its owner only; a store from before (token.key and token.crt apart) loads as is', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'berth-keys-'));
    try {
      const fresh = await startAuthRegistry(authConfig(tokenAuth()), createFilesystemDriver({ rootDirectory: root }));
      await tokenFor(fresh.url, 'alice', []);
      await fresh.close();
      assert.equal((await stat(path.join(root, KEY))).mode & 0o777, 0o600);
      assert.equal((await stat(path.join(root, CERT))).mode & 0o077, 0o044 & (0o777 & ~process.umask()) & 0o077);

      const old = path.join(root, 'old');
      const kid = await legacyPair(path.join(old, 'berth', 'auth'));
      const reg = await startAuthRegistry(authConfig(tokenAuth()), createFilesystemDriver({ rootDirectory: old }));
      try {
        assert.equal(header(await tokenFor(reg.url, 'alice', [])).kid, kid);
      } finally {
        await reg.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('a pair an earlier Berth generated into keydirectory is migrated into storage, so its tokens stay valid', async () => {
    const dir = path.join(fx.dir, 'keys');
    const kid = await legacyPair(dir);
    const driver = createMemoryDriver();
    const reg = await startAuthRegistry(authConfig(tokenAuth({ keydirectory: dir })), driver);
    try {
      assert.equal(header(await tokenFor(reg.url, 'alice', [])).kid, kid);
      assert.match(reg.logs(), /migrated from auth.token.server.keydirectory into storage/);
    } finally {
      await reg.close();
    }
    // The next start finds the key in storage, whatever became of the directory.
    await rm(dir, { recursive: true });
    const next = await startAuthRegistry(authConfig(tokenAuth()), driver);
    try {
      assert.equal(header(await tokenFor(next.url, 'alice', [])).kid, kid);
    } finally {
      await next.close();
    }
  });

  test('read-only storage: an existing key is used and nothing is written', async () => {
    const driver = createMemoryDriver();
    const writable = await startAuthRegistry(authConfig(tokenAuth()), driver);
    const kid = header(await tokenFor(writable.url, 'alice', [])).kid;
    await writable.close();
    const before = (await driver.getContent(KEY)).toString();
    const readOnly = await startAuthRegistry(authConfig(tokenAuth(), { storage: { inmemory: {}, maintenance: { readonly: { enabled: true } } } }), driver);
    try {
      await readOnly.app.ready();
      assert.equal(header(await tokenFor(readOnly.url, 'alice', [])).kid, kid);
      assert.equal((await driver.getContent(KEY)).toString(), before);
    } finally {
      await readOnly.close();
    }
  });

  test('read-only storage without a key: start-up fails with a one-line reason and writes nothing', async () => {
    const root = path.join(fx.dir, 'empty-root');
    await mkdir(root);
    const config = path.join(fx.dir, 'readonly.yml');
    await writeFile(
      config,
      [
        `storage: {filesystem: {rootdirectory: ${JSON.stringify(root)}}, maintenance: {readonly: {enabled: true}}}`,
        'http: {addr: "127.0.0.1:0", secret: a-test-secret-of-32-characters!!}',
        `auth: {htpasswd: {path: ${JSON.stringify(fx.htpasswd)}}, token: {}}`,
        '',
      ].join('\n'),
    );
    const run = await runBerth(['serve', '--config', config]);
    assert.notEqual(run.code, 0);
    const reason = run.stderr.trim().split('\n').filter((l) => /signing key/.test(l));
    assert.equal(reason.length, 1, run.stderr);
    assert.match(reason[0], /no signing key in storage .*storage\.maintenance\.readonly is on/);
    await assert.rejects(stat(path.join(root, KEY)), { code: 'ENOENT' });
  });
});
