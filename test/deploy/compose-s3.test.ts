import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBaseImages, buildBerthImage, buildDebianBase, freePort, pushAndPullSmokeImage, waitForStatus } from '../helpers/base-image';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { requireTool, requireTools } from '../helpers/tools';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const skip = requireTools(['dockerd', 'docker', 'docker-compose', 'debootstrap', 'busybox', 'ldd', 'tar', 'cp'], { root: true });

describe('docker-compose.yml, profile s3: Ceph RGW, two Berth replicas, nginx in front', { skip, timeout: 2_400_000 }, () => {
  let dockerd: Dockerd;
  let env: NodeJS.ProcessEnv;
  let lbPort: number;
  const project = 'berths3';

  const composeRun = (args: string[], timeoutMs: number, allowFailure = false) =>
    run(requireTool('docker-compose'), ['-f', path.join(REPO_ROOT, 'docker-compose.yml'), '-p', project, '--profile', 's3', ...args], {
      env,
      cwd: REPO_ROOT,
      timeoutMs,
      allowFailure,
    });
  const logs = async () => {
    const r = await composeRun(['logs', '--no-color', '--tail', '80'], 30_000, true);
    return r.stdout + r.stderr;
  };

  before(async () => {
    dockerd = await startDockerd();
    const t0 = Date.now();
    const bases = await buildBaseImages(dockerd);
    await buildBerthImage(dockerd, REPO_ROOT, bases, 'berth:compose');
    const t1 = Date.now();
    const debian = await buildDebianBase(dockerd);
    const build = (dir: string, tag: string) =>
      dockerd.docker(['build', '--network', 'host', '--build-arg', `BASE_IMAGE=${debian.tag}`, '-t', tag, path.join(REPO_ROOT, 'deploy/compose', dir)], 1_200_000);
    await build('rgw', 'berth-rgw:compose');
    await build('nginx', 'berth-nginx:compose');
    console.log(`# Berth image ${t1 - t0} ms; Debian base (debootstrap) ${debian.buildMs} ms; rgw and nginx images ${Date.now() - t1 - debian.buildMs} ms`);
    lbPort = await freePort();
    env = {
      ...dockerd.env,
      BERTH_IMAGE: 'berth:compose',
      BERTH_RGW_IMAGE: 'berth-rgw:compose',
      BERTH_NGINX_IMAGE: 'berth-nginx:compose',
      BERTH_S3_PORT: String(lbPort),
      BERTH_PORT: String(await freePort()),
    };
  });

  after(async () => {
    if (!dockerd) return;
    try {
      await composeRun(['down', '-v', '--remove-orphans'], 180_000, true);
    } finally {
      await dockerd.stop();
    }
  });

  it('takes a docker push and pull through the load balancer, served by both replicas', async () => {
    const started = Date.now();
    await composeRun(['up', '-d', '--no-build', 'lb'], 300_000);
    const registry = `127.0.0.1:${lbPort}`;
    // Ready means the replica behind nginx reached the bucket on RGW.
    await waitForStatus(`http://${registry}/readyz`, 200, 180_000, logs);
    console.log(`# s3 profile answered through nginx ${Date.now() - started} ms after up`);
    await pushAndPullSmokeImage(dockerd, `${registry}/compose/hello:1`);
    for (const replica of ['berth-a', 'berth-b']) {
      const out = (await composeRun(['logs', '--no-color', replica], 30_000)).stdout;
      assert.match(out, /\/v2\/compose\/hello\//, `${replica} served no request of the push or pull:\n${out.slice(-3000)}`);
    }
  });
});
