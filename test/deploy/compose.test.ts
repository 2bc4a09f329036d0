import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import { buildBaseImages, buildBerthImage, freePort, pushAndPullSmokeImage, waitForStatus } from '../helpers/base-image';
import { removeTree } from '../helpers/daemon';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { requireTool, requireTools } from '../helpers/tools';
import { COMPOSE, composeProject, REPO_ROOT, type ComposeProject } from './compose-project';

const skip = requireTools(['dockerd', 'docker', 'docker-compose', 'busybox', 'ldd', 'tar', 'cp'], { root: true });
const USER = { name: 'demo', password: `pw-${Date.now()}-${Math.random()}` };

describe('docker-compose.yml: the default stack, and deploy/compose/token.yml', { skip, timeout: 1_200_000 }, () => {
  let dockerd: Dockerd;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let tokenPort: number;
  let dir: string | undefined;
  let base: ComposeProject;
  let token: ComposeProject;
  const project = 'berthcompose';

  before(async () => {
    dockerd = await startDockerd();
    const bases = await buildBaseImages(dockerd);
    const started = Date.now();
    await buildBerthImage(dockerd, REPO_ROOT, bases, 'berth:compose');
    console.log(`# base images in ${bases.buildMs} ms, Berth image in ${Date.now() - started} ms`);
    port = await freePort();
    tokenPort = await freePort();
    // The token stack refuses to start without an htpasswd file of the operator's: none ships.
    dir = await mkdtemp('/tmp/berth-compose-');
    const htpasswd = path.join(dir, 'htpasswd');
    await writeFile(htpasswd, `${USER.name}:${await bcrypt.hash(USER.password, 6)}\n`, { mode: 0o644 });
    env = { ...dockerd.env, BERTH_IMAGE: 'berth:compose', BERTH_PORT: String(port), BERTH_TOKEN_PORT: String(tokenPort), BERTH_HTPASSWD: htpasswd };
    base = composeProject([COMPOSE.base], project, env, dockerd);
    token = composeProject([COMPOSE.base, COMPOSE.token], project, env, dockerd);
  });

  after(async () => {
    if (!dockerd) return;
    try {
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
});
