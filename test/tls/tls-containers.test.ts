import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeContainersEnv, policyFlag, type ContainersEnv } from '../helpers/containers-env';
import { run } from '../helpers/exec';
import { umociImage, type LayoutManifest } from '../helpers/images';
import type { Issued } from '../helpers/test-ca';
import { requireTools } from '../helpers/tools';
import { tlsFixture, type TlsFixture } from './tls-fixture';

const skip = requireTools(['skopeo', 'umoci', 'busybox']);
const podmanSkip = skip || requireTools(['podman']);

describe('skopeo and podman over HTTPS with verification on', { skip, timeout: 300_000 }, () => {
  let tls: TlsFixture;
  let containers: ContainersEnv;
  let layout: string;
  let image: LayoutManifest;

  before(async () => {
    tls = await tlsFixture('berth-tls-containers-');
    containers = await makeContainersEnv();
    layout = path.join(tls.work, 'layout');
    image = await umociImage(layout, 'v1', { message: 'tls e2e' });
  });
  after(async () => {
    await containers?.cleanup();
    await tls?.cleanup();
  });

  const registry = async (mutual: boolean) => `127.0.0.1:${(await tls.start({ mutual })).port}`;

  /** A containers-style certs directory: the CA as ca.crt, and optionally a client pair as client.cert/client.key. */
  async function certDir(name: string, client?: Issued): Promise<string> {
    const d = path.join(tls.work, name);
    await mkdir(d);
    await writeFile(path.join(d, 'ca.crt'), tls.ca.certPem);
    if (client) {
      await writeFile(path.join(d, 'client.cert'), client.certPem);
      await writeFile(path.join(d, 'client.key'), client.keyPem);
    }
    return d;
  }

  const skopeo = (args: string[]) => run('skopeo', [policyFlag(containers), ...args], { env: containers.env, allowFailure: true });
  const podman = (args: string[]) => run('podman', args, { env: containers.env, allowFailure: true });

  test('push and pull verify the registry against the CA in --cert-dir', async () => {
    const host = await registry(false);
    const dir = await certDir('certs-plain');
    const push = await skopeo(['copy', '--dest-cert-dir', dir, '--dest-tls-verify=true', `oci:${layout}:v1`, `docker://${host}/tls/skopeo:v1`]);
    assert.equal(push.code, 0, push.stderr);
    const inspect = await skopeo(['inspect', '--raw', '--cert-dir', dir, '--tls-verify=true', `docker://${host}/tls/skopeo:v1`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.equal(inspect.stdout, image.bytes.toString('utf8'));
    const unverified = await skopeo(['inspect', '--raw', '--tls-verify=true', `docker://${host}/tls/skopeo:v1`]);
    assert.notEqual(unverified.code, 0, 'without the CA the registry is not trusted');
    assert.match(unverified.stderr, /certificate|x509/i);
  });

  test('mutual TLS: the client certificate in --cert-dir is required', async () => {
    const host = await registry(true);
    const withCert = await certDir('certs-client', await tls.client('skopeo client'));
    const withoutCert = await certDir('certs-no-client');
    const push = await skopeo(['copy', '--dest-cert-dir', withCert, '--dest-tls-verify=true', `oci:${layout}:v1`, `docker://${host}/tls/mutual:v1`]);
    assert.equal(push.code, 0, push.stderr);
    const refused = await skopeo(['inspect', '--raw', '--cert-dir', withoutCert, '--tls-verify=true', `docker://${host}/tls/mutual:v1`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /certificate required|bad certificate|tls/i);
  });

  test('http.tls.clientidentity: skopeo with only a client certificate pushes where the policy grants its CN, in Basic and token mode', async () => {
    await writeFile(path.join(tls.work, 'htpasswd'), '');
    const identity = {
      REGISTRY_HTTP_TLS_CLIENTIDENTITY: 'cn',
      REGISTRY_AUTH_HTPASSWD_PATH: path.join(tls.work, 'htpasswd'),
      REGISTRY_AUTH_ACCESSCONTROL: '{repositories: {"ci/**": {policies: [{users: [ci-bot], actions: [pull, push]}]}}}',
    };
    const bot = await certDir('certs-ci-bot', await tls.client('ci-bot'));
    for (const [mode, env] of [
      ['basic', identity],
      ['token', { ...identity, REGISTRY_AUTH_TOKEN_SERVICE: 'berth' }],
    ] as const) {
      const host = `127.0.0.1:${(await tls.start({ mutual: true, env })).port}`;
      const push = await skopeo(['copy', '--dest-cert-dir', bot, `oci:${layout}:v1`, `docker://${host}/ci/${mode}:v1`]);
      assert.equal(push.code, 0, `${mode}: ${push.stderr}`);
      const denied = await skopeo(['copy', '--dest-cert-dir', bot, `oci:${layout}:v1`, `docker://${host}/other/${mode}:v1`]);
      assert.notEqual(denied.code, 0, `${mode}: only ci/** is granted`);
      assert.match(denied.stderr, /denied|unauthorized|forbidden/i);
    }
  });

  test('podman: pull and push verify against --cert-dir; with mTLS the client pair there is presented', { skip: podmanSkip }, async () => {
    const host = await registry(true);
    const withCert = await certDir('podman-client', await tls.client('podman client'));
    const withoutCert = await certDir('podman-no-client');
    const ref = `${host}/tls/podman:v1`;
    const seeded = await skopeo(['copy', '--dest-cert-dir', withCert, `oci:${layout}:v1`, `docker://${ref}`]);
    assert.equal(seeded.code, 0, seeded.stderr);
    const pull = await podman(['pull', '--quiet', '--cert-dir', withCert, '--tls-verify=true', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    const pushed = await podman(['push', '--cert-dir', withCert, '--tls-verify=true', ref, `docker://${host}/tls/podman-copy:v1`]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const refused = await podman(['push', '--cert-dir', withoutCert, '--tls-verify=true', ref, `docker://${host}/tls/podman-refused:v1`]);
    assert.notEqual(refused.code, 0, 'no client certificate: refused');
    assert.match(refused.stderr, /certificate required|bad certificate|tls/i);
  });
});
