import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import { buildBaseImages, freePort, pushAndPullSmokeImage, waitForStatus } from '../helpers/base-image';
import { makeContainersEnv, policyFlag } from '../helpers/containers-env';
import { removeTree } from '../helpers/daemon';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { berthImageFromContext } from '../helpers/image-cache';
import { layoutManifest, umociImage } from '../helpers/images';
import { createCa, issue } from '../helpers/test-ca';
import { requireTool, requireTools } from '../helpers/tools';
import { COMPOSE, composeProject, REPO_ROOT, type ComposeProject } from './compose-project';

const skip = requireTools(['dockerd', 'docker', 'docker-compose', 'busybox', 'ldd', 'tar', 'cp'], { root: true });
const skopeoSkip = requireTools(['skopeo', 'umoci']);
const USER = { name: 'demo', password: `pw-${Date.now()}-${Math.random()}` };

describe('docker-compose.yml: the default stack, deploy/compose/token.yml and deploy/compose/tls.yml', { skip, timeout: 1_200_000 }, () => {
  let dockerd: Dockerd;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let tokenPort: number;
  let tlsPort: number;
  let dir: string | undefined;
  let base: ComposeProject;
  let token: ComposeProject;
  let tls: ComposeProject;
  const project = 'berthcompose';

  before(async () => {
    dockerd = await startDockerd();
    const bases = await buildBaseImages(dockerd);
    const started = Date.now();
    const how = await berthImageFromContext(dockerd, REPO_ROOT, bases, 'berth:compose');
    console.log(`# base images in ${bases.buildMs} ms, Berth image ${how} in ${Date.now() - started} ms`);
    port = await freePort();
    tokenPort = await freePort();
    tlsPort = await freePort();
    // The token stack refuses to start without an htpasswd file of the operator's: none ships.
    dir = await mkdtemp('/tmp/berth-compose-');
    const htpasswd = path.join(dir, 'htpasswd');
    await writeFile(htpasswd, `${USER.name}:${await bcrypt.hash(USER.password, 6)}\n`, { mode: 0o644 });
    env = { ...dockerd.env, BERTH_IMAGE: 'berth:compose', BERTH_PORT: String(port), BERTH_TOKEN_PORT: String(tokenPort), BERTH_HTPASSWD: htpasswd };
    base = composeProject([COMPOSE.base], project, env, dockerd);
    token = composeProject([COMPOSE.base, COMPOSE.token], project, env, dockerd);
    const tlsDir = path.join(dir, 'tls');
    await mkdir(tlsDir);
    const tlsEnv = { ...env, BERTH_TLS_DIR: tlsDir, BERTH_TLS_PORT: String(tlsPort), BERTH_TLS_CLIENTCAS: '[/etc/berth/tls/ca.crt]' };
    tls = composeProject([COMPOSE.base, COMPOSE.tls], project, tlsEnv, dockerd);
  });

  after(async () => {
    if (!dockerd) return;
    try {
      await tls.run(['down', '-v', '--remove-orphans'], 120_000, true);
      await token.run(['down', '-v', '--remove-orphans'], 120_000, true);
    } finally {
      await dockerd.stop();
      if (dir) await removeTree(dir);
    }
  });

  it('starts Berth on a volume, healthy by its node healthcheck, and takes a docker push and pull', async () => {
    await base.run(['up', '-d', '--no-build']);
    const registry = `127.0.0.1:${port}`;
    await base.healthy('berth', 90_000);
    await waitForStatus(`http://${registry}/readyz`, 200, 60_000, () => base.logs('berth'));
    await pushAndPullSmokeImage(dockerd, `${registry}/compose/hello:1`);
    // The content is on the named volume, so it outlives the container.
    await base.run(['rm', '-s', '-f', 'berth']);
    await base.run(['up', '-d', '--no-build', 'berth']);
    await waitForStatus(`http://${registry}/v2/compose/hello/tags/list`, 200, 60_000, () => base.logs('berth'));
  });

  it('serves the token stack: the htpasswd user pushes, anonymous clients pull public/** only', async () => {
    await token.run(['up', '-d', '--no-build', 'berth-token']);
    const registry = `127.0.0.1:${tokenPort}`;
    await token.healthy('berth-token', 90_000);
    assert.equal((await fetch(`http://${registry}/v2/`)).status, 401);
    await dockerd.docker(['login', registry, '-u', USER.name, '-p', USER.password]);
    await pushAndPullSmokeImage(dockerd, `${registry}/private/hello:1`);
    const publicRef = `${registry}/public/hello:1`;
    await dockerd.docker(['tag', `${registry}/private/hello:1`, publicRef]);
    await dockerd.docker(['push', publicRef], 300_000);
    await dockerd.docker(['logout', registry]);
    await dockerd.docker(['rmi', publicRef, `${registry}/private/hello:1`]);
    await dockerd.docker(['pull', publicRef], 300_000);
    const denied = await run(requireTool('docker'), ['pull', `${registry}/private/hello:1`], { env, timeoutMs: 120_000, allowFailure: true });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /denied|unauthorized/i);
  });
  it('serves tls.yml under mutual TLS: healthy by `berth healthcheck`, skopeo pushes and pulls with the CA and a client pair', { skip: skopeoSkip }, async () => {
    const ca = await createCa('compose root');
    const server = await issue(ca, 'registry.example.com');
    const client = await issue(ca, 'compose client', { usage: 'client' });
    const tlsDir = path.join(dir!, 'tls');
    // The container runs as uid 1000: the files must be readable by it.
    for (const [name, pem] of [['tls.crt', server.certPem], ['tls.key', server.keyPem], ['ca.crt', ca.certPem]]) await writeFile(path.join(tlsDir, name), pem, { mode: 0o644 });
    await tls.run(['up', '-d', '--no-build', 'berth-tls']);
    await tls.healthy('berth-tls', 90_000);
    const containers = await makeContainersEnv();
    try {
      /** A containers-style certs directory: the CA, and the client pair when `withClient`. */
      const certs = async (name: string, withClient: boolean) => {
        const d = path.join(containers.dir, name);
        await mkdir(d);
        await writeFile(path.join(d, 'ca.crt'), ca.certPem);
        if (withClient) {
          await writeFile(path.join(d, 'client.cert'), client.certPem);
          await writeFile(path.join(d, 'client.key'), client.keyPem);
        }
        return d;
      };
      const withClient = await certs('certs-client', true);
      const withoutClient = await certs('certs-ca-only', false);
      const skopeo = (args: string[]) => run(requireTool('skopeo'), [policyFlag(containers), ...args], { env: containers.env, timeoutMs: 120_000, allowFailure: true });
      const layout = path.join(containers.dir, 'layout');
      const image = await umociImage(layout, 'v1', { message: 'compose tls' });
      const ref = `docker://127.0.0.1:${tlsPort}/compose/tls:v1`;
      const push = await skopeo(['copy', '--dest-cert-dir', withClient, '--dest-tls-verify=true', `oci:${layout}:v1`, ref]);
      assert.equal(push.code, 0, push.stderr);
      // Into another layout, where no blob is there already to be reused instead of pulled.
      const pulled = path.join(containers.dir, 'pulled');
      const pull = await skopeo(['copy', '--src-cert-dir', withClient, '--src-tls-verify=true', ref, `oci:${pulled}:v1`]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.deepEqual((await layoutManifest(pulled, 'v1')).bytes, image.bytes, 'the pulled manifest is the pushed one');
      const refused = await skopeo(['inspect', '--raw', '--cert-dir', withoutClient, '--tls-verify=true', ref]);
      assert.notEqual(refused.code, 0, 'no client certificate: refused');
      assert.match(refused.stderr, /certificate required|bad certificate|tls/i);
    } finally {
      await containers.cleanup();
    }
  });
});
