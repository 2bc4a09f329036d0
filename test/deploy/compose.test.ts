import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBaseImages, buildBerthImage, freePort, pushAndPullSmokeImage, waitForStatus } from '../helpers/base-image';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { requireTool, requireTools } from '../helpers/tools';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const skip = requireTools(['dockerd', 'docker', 'docker-compose', 'busybox', 'ldd', 'tar', 'cp'], { root: true });

describe('docker-compose.yml: the default stack and the token profile', { skip, timeout: 1_200_000 }, () => {
  let dockerd: Dockerd;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let tokenPort: number;
  const project = 'berthcompose';

  const compose = async (args: string[], timeoutMs = 180_000) =>
    (await run(requireTool('docker-compose'), ['-f', path.join(REPO_ROOT, 'docker-compose.yml'), '-p', project, ...args], { env, cwd: REPO_ROOT, timeoutMs })).stdout;
  const logs = (service: string) => () =>
    run(requireTool('docker-compose'), ['-f', path.join(REPO_ROOT, 'docker-compose.yml'), '-p', project, 'logs', '--no-color', service], { env, cwd: REPO_ROOT, timeoutMs: 30_000, allowFailure: true }).then(
      (r) => r.stdout + r.stderr,
    );

  before(async () => {
    dockerd = await startDockerd();
    const bases = await buildBaseImages(dockerd);
    const started = Date.now();
    await buildBerthImage(dockerd, REPO_ROOT, bases, 'berth:compose');
    console.log(`# base images in ${bases.buildMs} ms, Berth image in ${Date.now() - started} ms`);
    port = await freePort();
    tokenPort = await freePort();
    env = { ...dockerd.env, BERTH_IMAGE: 'berth:compose', BERTH_PORT: String(port), BERTH_TOKEN_PORT: String(tokenPort) };
  });

  after(async () => {
    if (!dockerd) return;
    try {
      await compose(['--profile', 'token', 'down', '-v', '--remove-orphans'], 120_000).catch(() => undefined);
    } finally {
      await dockerd.stop();
    }
  });

  it('starts Berth on a volume and takes a docker push and pull', async () => {
    await compose(['up', '-d', '--no-build']);
    const registry = `127.0.0.1:${port}`;
    await waitForStatus(`http://${registry}/readyz`, 200, 60_000, logs('berth'));
    await pushAndPullSmokeImage(dockerd, `${registry}/compose/hello:1`);
    // The content is on the named volume, so it outlives the container.
    await compose(['rm', '-s', '-f', 'berth']);
    await compose(['up', '-d', '--no-build', 'berth']);
    await waitForStatus(`http://${registry}/v2/compose/hello/tags/list`, 200, 60_000, logs('berth'));
  });

  it('serves the token profile: the demo user pushes, anonymous clients pull public/** only', async () => {
    await compose(['--profile', 'token', 'up', '-d', '--no-build', 'berth-token']);
    const registry = `127.0.0.1:${tokenPort}`;
    await waitForStatus(`http://${registry}/readyz`, 200, 60_000, logs('berth-token'));
    assert.equal((await fetch(`http://${registry}/v2/`)).status, 401);
    await dockerd.docker(['login', registry, '-u', 'demo', '-p', 'demo-password']);
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
});
