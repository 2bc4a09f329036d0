import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBaseImages, buildDebianBase, freePort, pushAndPullSmokeImage, waitForStatus } from '../helpers/base-image';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { berthImageFromContext } from '../helpers/image-cache';
import { requireTools } from '../helpers/tools';
import { COMPOSE, composeProject, REPO_ROOT, type ComposeProject } from './compose-project';

const skip = requireTools(['dockerd', 'docker', 'docker-compose', 'debootstrap', 'busybox', 'ldd', 'tar', 'cp'], { root: true });

describe('deploy/compose/s3.yml: Ceph RGW, two Berth replicas, nginx in front', { skip, timeout: 2_400_000 }, () => {
  let dockerd: Dockerd;
  let lbPort: number;
  let stack: ComposeProject;

  before(async () => {
    dockerd = await startDockerd();
    const t0 = Date.now();
    const bases = await buildBaseImages(dockerd);
    const how = await berthImageFromContext(dockerd, REPO_ROOT, bases, 'berth:compose');
    const t1 = Date.now();
    const debian = await buildDebianBase(dockerd);
    const build = (dir: string, tag: string) =>
      dockerd.docker(['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${debian.tag}`, '-t', tag, path.join(REPO_ROOT, 'deploy/compose', dir)], 1_200_000);
    await build('rgw', 'berth-rgw:compose');
    await build('nginx', 'berth-nginx:compose');
    console.log(`# Berth image ${how} in ${t1 - t0} ms; Debian base (debootstrap) ${debian.buildMs} ms; rgw and nginx images ${Date.now() - t1 - debian.buildMs} ms`);
    lbPort = await freePort();
    const env = {
      ...dockerd.env,
      BERTH_IMAGE: 'berth:compose',
      BERTH_RGW_IMAGE: 'berth-rgw:compose',
      BERTH_NGINX_IMAGE: 'berth-nginx:compose',
      BERTH_S3_PORT: String(lbPort),
      BERTH_PORT: String(await freePort()),
      // The stack refuses to start without its secrets: no demo value ships.
      BERTH_S3_ACCESS_KEY: randomBytes(10).toString('hex').toUpperCase(),
      BERTH_S3_SECRET_KEY: randomBytes(20).toString('hex'),
      BERTH_HTTP_SECRET: randomBytes(32).toString('hex'),
    };
    stack = composeProject([COMPOSE.base, COMPOSE.s3], 'berths3', env, dockerd);
  });

  after(async () => {
    if (!dockerd) return;
    try {
      await stack.run(['down', '-v', '--remove-orphans'], 180_000, true);
    } finally {
      await dockerd.stop();
    }
  });

  it('starts in order of health and takes a docker push and pull through the load balancer, served by both replicas', async () => {
    const started = Date.now();
    // depends_on with service_healthy: rgw healthy (bucket answers), then both replicas ready, then nginx.
    await stack.run(['up', '-d', '--no-build', 'lb'], 600_000);
    for (const service of ['rgw', 'berth-a', 'berth-b']) await stack.healthy(service, 10_000);
    await stack.healthy('lb', 60_000);
    const registry = `127.0.0.1:${lbPort}`;
    await waitForStatus(`http://${registry}/readyz`, 200, 30_000, () => stack.logs());
    console.log(`# s3 stack healthy through nginx ${Date.now() - started} ms after up`);
    await pushAndPullSmokeImage(dockerd, `${registry}/compose/hello:1`);
    for (const replica of ['berth-a', 'berth-b']) {
      const out = (await stack.run(['logs', '--no-color', replica], 30_000)).stdout;
      assert.match(out, /\/v2\/compose\/hello\//, `${replica} served no request of the push or pull:\n${out.slice(-3000)}`);
    }
  });
});
