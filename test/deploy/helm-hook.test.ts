import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import { stringify, parse } from 'yaml';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { removeTree } from '../helpers/daemon';
import { run } from '../helpers/exec';
import { acquireRgw, releaseRgw, rgwSkipReason } from '../helpers/rgw';
import { createCa, issue } from '../helpers/test-ca';
import { mainContainer, mountedFile, resolveEnv, secretData, workload, type Container } from './helm-render/pod-spec';
import { only, render, rendererPrerequisites, type K8sObject } from './helm-render/render';

const skip = rendererPrerequisites();
const USERS_SECRET = 'registry-users';
const ALICE = { username: 'alice', password: 'alice-password' };
const withUsers = (auth: Record<string, unknown> = {}, credentials: Record<string, string> = ALICE) => ({
  auth: { htpasswd: { enabled: true, existingSecret: USERS_SECRET }, ...auth },
  tests: { credentials },
});

/**
 * Starts Berth as the rendered workload would run: the ConfigMap's config and the container's
 * environment, with the files the pod mounts (htpasswd, token key) written to a temp directory and
 * filesystem storage moved there.
 */
async function startRendered(objects: K8sObject[], cleanups: (() => Promise<unknown>)[], extraSecrets: Record<string, Record<string, string>> = {}): Promise<BerthProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-helm-hook-'));
  cleanups.push(() => removeTree(dir));
  const w = workload(objects);
  const users = `${ALICE.username}:${await bcrypt.hash(ALICE.password, 6)}\n`;
  const secrets = secretData(objects, { [USERS_SECRET]: { htpasswd: users }, ...extraSecrets });
  const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
  if (config.storage.filesystem) config.storage.filesystem.rootdirectory = path.join(dir, 'data');
  const copy = async (key: Record<string, string>, field: string) => {
    const file = path.join(dir, path.basename(key[field]));
    await writeFile(file, mountedFile(w, objects, secrets, key[field]));
    key[field] = file;
  };
  if (config.auth?.htpasswd) await copy(config.auth.htpasswd, 'path');
  if (config.auth?.token) for (const field of ['key', 'certificate']) await copy(config.auth.token.server, field);
  if (config.http.tls) for (const field of ['key', 'certificate']) await copy(config.http.tls, field);
  if (config.http.tls?.clientcas) await copy(config.http.tls.clientcas, '0');
  const file = path.join(dir, 'config.yml');
  await writeFile(file, stringify(config));
  const berth = await startBerthProcess({ args: ['--config', file], env: resolveEnv(mainContainer(w), secrets) });
  cleanups.push(() => berth.stop());
  return berth;
}

/**
 * Runs the test hook's container command on this machine's node, pointed at `url` instead of the
 * Service; the files its client pair variables name are written from `extraSecrets` to a temp directory.
 */
async function runHook(objects: K8sObject[], url: string, env: Record<string, string> = {}, extraSecrets: Record<string, Record<string, string>> = {}) {
  const hook = only(objects, 'Pod');
  const c = hook.spec.containers[0] as Container;
  assert.equal(c.command![0], 'node');
  const secrets = secretData(objects, { [USERS_SECRET]: { htpasswd: '' }, ...extraSecrets });
  const hookEnv: Record<string, string | undefined> = { PATH: process.env.PATH, ...resolveEnv(c, secrets), BERTH_URL: url };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-helm-hook-client-'));
  try {
    for (const name of ['BERTH_TEST_CLIENT_CERT', 'BERTH_TEST_CLIENT_KEY']) {
      const mounted = hookEnv[name];
      if (mounted === undefined) continue;
      const file = path.join(dir, path.basename(mounted));
      await writeFile(file, mountedFile(hook, objects, secrets, mounted, c));
      hookEnv[name] = file;
    }
    return await run(process.execPath, c.command!.slice(1), { env: { ...hookEnv, ...env }, timeoutMs: 60_000, allowFailure: true });
  } finally {
    await removeTree(dir);
  }
}

/** A CA, the registry's pair in the Secret `registry-tls` (with the CA as ca.crt) and a client pair in `helm-test-client`. */
async function mutualTlsSecrets(clientName: string): Promise<Record<string, Record<string, string>>> {
  const ca = await createCa('helm hook mutual root');
  const server = await issue(ca, 'registry.example.com');
  const client = await issue(ca, clientName, { usage: 'client' });
  return {
    'registry-tls': { 'tls.crt': server.certPem, 'tls.key': server.keyPem, 'ca.crt': ca.certPem },
    'helm-test-client': { 'tls.crt': client.certPem, 'tls.key': client.keyPem },
  };
}
const MUTUAL = { tls: { enabled: true, existingSecret: 'registry-tls', clientCAKey: 'ca.crt' }, tests: { clientCertSecret: 'helm-test-client' } };

describe('the chart\'s helm test pod, run against Berth started from the rendered config', { skip, timeout: 300_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('pushes and pulls without auth, and deletes what it pushed', async () => {
    const objects = await render({});
    const berth = await startRendered(objects, cleanups);
    const result = await runHook(objects, berth.url);
    assert.equal(result.code, 0, result.stderr);
    const [, tag] = /pushed and pulled helm-test\/berth:(helm-test-\d+) through http:\/\/127\.0\.0\.1:\d+, then deleted it/.exec(result.stdout) ?? assert.fail(result.stdout);
    assert.equal((await fetch(`${berth.url}/v2/helm-test/berth/manifests/${tag}`)).status, 404);
    assert.match(berth.logs(), /\/v2\/helm-test\/berth\/blobs\/uploads\//, 'through the upload API');
  });

  it('with tls.enabled, reaches the Service over https (without verifying the public certificate)', async () => {
    const objects = await render({ tls: { enabled: true, existingSecret: 'registry-tls' } });
    const hook = only(objects, 'Pod').spec.containers[0] as Container;
    assert.match(String(hook.env?.find((e) => e.name === 'BERTH_URL')?.value), /^https:\/\//);
    const ca = await createCa('helm hook root');
    const pair = await issue(ca, 'registry.example.com');
    const berth = await startRendered(objects, cleanups, { 'registry-tls': { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem } });
    assert.match(berth.url, /^https:/);
    const result = await runHook(objects, berth.url);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /pushed and pulled helm-test\/berth:helm-test-\d+ through https:\/\/127\.0\.0\.1:\d+/);
  });

  it('under mutual TLS, presents the client pair of tests.clientCertSecret, without which Berth refuses it', async () => {
    const objects = await render(MUTUAL);
    const secrets = await mutualTlsSecrets('helm-test');
    const berth = await startRendered(objects, cleanups, secrets);
    const result = await runHook(objects, berth.url, {}, secrets);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /pushed and pulled helm-test\/berth:helm-test-\d+ through https:\/\/127\.0\.0\.1:\d+, then deleted it/);
    const without = await runHook(objects, berth.url, { BERTH_TEST_CLIENT_CERT: '', BERTH_TEST_CLIENT_KEY: '' }, secrets);
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /helm test failed: .*certificate required/);
  });

  it('with tls.clientIdentity, needs no password: the client certificate names the user the policy grants', async () => {
    const policy = { repositories: { 'helm-test/**': { policies: [{ users: ['helm-test'], actions: ['pull', 'push', 'delete'] }] } } };
    const { auth } = withUsers({ accesscontrol: policy });
    const objects = await render({ ...MUTUAL, tls: { ...MUTUAL.tls, clientIdentity: 'cn' }, auth });
    const hook = only(objects, 'Pod').spec.containers[0] as Container;
    assert.equal(hook.env?.find((e) => e.name === 'BERTH_TEST_USERNAME'), undefined, 'no password to log in with');
    const secrets = await mutualTlsSecrets('helm-test');
    const berth = await startRendered(objects, cleanups, secrets);
    const result = await runHook(objects, berth.url, {}, secrets);
    assert.equal(result.code, 0, result.stderr);
    assert.match(berth.logs(), /"user":"helm-test"/, 'the certificate named the user');
    const stranger = await mutualTlsSecrets('someone-else');
    const other = await startRendered(objects, cleanups, stranger);
    const refused = await runHook(objects, other.url, {}, stranger);
    assert.notEqual(refused.code, 0, 'a certificate naming a user the policy does not grant');
    assert.match(refused.stderr, /helm test failed: start an upload: 403 .*DENIED/);
  });

  it('logs in with Basic auth as the user from the chart Secret, and fails with a wrong password', async () => {
    const objects = await render(withUsers());
    const berth = await startRendered(objects, cleanups);
    const ok = await runHook(objects, berth.url);
    assert.equal(ok.code, 0, ok.stderr);
    const wrong = await runHook(objects, berth.url, { BERTH_TEST_PASSWORD: 'not-her-password' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /helm test failed: GET \/v2\/: 401/);
  });

  it('gets a token from the token server through the Service even when the realm names an external address', async () => {
    const objects = await render(withUsers({ token: { enabled: true, realm: 'https://registry.example.invalid/auth/token' } }));
    const berth = await startRendered(objects, cleanups);
    const anonymous = await fetch(`${berth.url}/v2/`);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm="https:\/\/registry\.example\.invalid\/auth\/token"/);
    const result = await runHook(objects, berth.url);
    assert.equal(result.code, 0, result.stderr);
    // (express logs the token route's URL relative to its mount point)
    assert.match(berth.logs(), /"url":"[^"]*\?service=berth&scope=repository%3Ahelm-test%2Fberth%3Apull%2Cpush/, 'a token was requested');
  });

  it('says what is missing when the registry asks for credentials it was not given', async () => {
    const berth = await startRendered(await render(withUsers()), cleanups);
    const result = await runHook(await render({}), berth.url);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /helm test failed: the registry asks for credentials: set tests\.credentials/);
  });

  it('pulls a redirected blob from S3 (RGW) without sending it the registry\'s token', { skip: rgwSkipReason() }, async () => {
    const rgw = await acquireRgw();
    cleanups.push(() => releaseRgw());
    const bucket = `helm-hook-${Date.now()}`;
    await rgw.createBucket(bucket);
    const s3 = { bucket, region: rgw.region, regionendpoint: rgw.endpoint, forcepathstyle: true, secure: false, accessKey: rgw.accessKey, secretKey: rgw.secretKey };
    const objects = await render({ storage: { type: 's3', s3 }, ...withUsers({ token: { enabled: true } }) });
    const berth = await startRendered(objects, cleanups);
    const result = await runHook(objects, berth.url);
    assert.equal(result.code, 0, result.stderr);
    assert.match(berth.logs(), /"status":307/, 'the layer was redirected to storage');
  });
});
