import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { DOCKER_MANIFEST, sha256, writeBuildContext } from '../helpers/images';
import { assertBlobsServed, fetchManifest } from '../helpers/registry-client';
import { acquireRgw, releaseRgw, rgwSkipReason, type Rgw } from '../helpers/rgw';
import { requireTools } from '../helpers/tools';
import { startBerthOnS3, type AccessLine, type BerthOnS3 } from './berth-on-s3';
import { startCountingProxy } from './counting-proxy';

const skip = rgwSkipReason() || requireTools(['dockerd', 'docker', 'busybox'], { root: true });

/** docker build → push → rmi → pull → run through Berth on S3, with Berth streaming blobs and with redirects. */
describe('docker against Berth on S3 (RGW)', { skip, timeout: 600_000 }, () => {
  let rgw: Rgw | undefined;
  let dockerd: Dockerd | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-docker-s3-'));
    // Both take ~10 s, so they start together; whichever started is stopped in after() either way.
    const [r, d] = await Promise.allSettled([acquireRgw(), startDockerd()]);
    if (r.status === 'fulfilled') rgw = r.value;
    if (d.status === 'fulfilled') dockerd = d.value;
    if (r.status === 'rejected') throw r.reason;
    if (d.status === 'rejected') throw d.reason;
  });
  after(async () => {
    await dockerd?.stop();
    if (rgw) await releaseRgw();
    await rm(work, { recursive: true, force: true });
  });

  const docker = (...args: string[]) => dockerd!.docker(args);

  const blobGets = (log: AccessLine[], name: string) => log.filter((l) => l.method === 'GET' && l.url.startsWith(`/v2/${name}/blobs/sha256:`));

  /** Pushes, removes and pulls one image; returns what the registry served for it. */
  async function roundTrip(reg: BerthOnS3, name: string, message: string): Promise<{ manifest: Buffer; digest: string }> {
    const ref = `${reg.host}/${name}:v1`;
    const ctx = path.join(work, name.replaceAll('/', '-'));
    await writeBuildContext(ctx, message);
    await docker('build', '--quiet', '--tag', ref, ctx);
    const builtId = (await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim();
    const pushOut = await docker('push', ref);
    const pushed = /v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushOut);
    assert.ok(pushed, `no digest in docker push output:\n${pushOut}`);
    const served = await fetchManifest(reg.url, name, 'v1');
    assert.equal(served.digest, pushed[1]);
    assert.equal(served.contentType, DOCKER_MANIFEST);

    await docker('rmi', ref);
    const pullOut = await docker('pull', ref);
    assert.match(pullOut, new RegExp(`Digest: ${pushed[1]}`));
    assert.deepEqual(JSON.parse(await docker('image', 'inspect', '--format', '{{json .RepoDigests}}', ref)), [`${reg.host}/${name}@${pushed[1]}`]);
    // The image ID is the config digest: docker verified the config it pulled against it.
    assert.equal((await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), builtId);
    assert.equal(await docker('run', '--rm', '--network', 'none', ref), `${message}\n`);
    await docker('rmi', ref);
    return { manifest: served.body, digest: pushed[1] };
  }

  async function withBerth(opts: { redirect: boolean; publicEndpoint?: string }, body: (reg: BerthOnS3) => Promise<void>): Promise<void> {
    const reg = await startBerthOnS3(rgw!, opts);
    try {
      await body(reg);
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- berth log (tail)\n${reg.berth.logs().slice(-6000)}`;
      throw e;
    } finally {
      await reg.stop();
    }
  }

  test('redirects disabled: Berth streams every blob itself', () =>
    withBerth({ redirect: false }, async (reg) => {
      const name = 'e2e/streamed';
      const { manifest } = await roundTrip(reg, name, 'streamed from s3 by berth');
      const gets = blobGets(reg.accessLog(), name);
      assert.ok(gets.length >= 2, `docker pulled config and layer through Berth: ${JSON.stringify(gets)}`);
      assert.deepEqual(new Set(gets.map((l) => l.status)), new Set([200]));
      assert.equal(await assertBlobsServed(reg.url, name, manifest), 2);
    }));

  test('redirects enabled: blob GETs answer 307 to a presigned URL on the public endpoint, and docker follows', async () => {
    // The public endpoint is a counting proxy in front of RGW: another address than the one Berth
    // talks to, and a record of what the clients fetched from it.
    const publicProxy = await startCountingProxy(rgw!.endpoint);
    const publicEndpoint = publicProxy.url;
    try {
      await withBerth({ redirect: true, publicEndpoint }, async (reg) => {
        const name = 'e2e/redirected';
        const { manifest } = await roundTrip(reg, name, 'redirected to s3 by berth');
        const gets = blobGets(reg.accessLog(), name);
        assert.ok(gets.length >= 2, `docker asked Berth for config and layer: ${JSON.stringify(gets)}`);
        assert.deepEqual(new Set(gets.map((l) => l.status)), new Set([307]), JSON.stringify(gets));
        const json = JSON.parse(manifest.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
        const layerHex = json.layers[0].digest.split(':')[1];
        const fetched = publicProxy.requests.filter((r) => r.method === 'GET' && r.url.includes(`/blobs/sha256/${layerHex.slice(0, 2)}/${layerHex}/data?`));
        assert.ok(
          fetched.length >= 1 && fetched.every((r) => r.status === 200),
          `docker fetched the layer from the public endpoint: ${JSON.stringify(publicProxy.requests)}`,
        );

        for (const { digest } of [json.config, ...json.layers]) {
          for (const method of ['GET', 'HEAD'] as const) {
            const res = await fetch(`${reg.url}/v2/${name}/blobs/${digest}`, { method, redirect: 'manual' });
            await res.arrayBuffer();
            assert.equal(res.status, 307, `${method} ${digest}`);
            assert.equal(res.headers.get('docker-content-digest'), digest);
            const location = new URL(res.headers.get('location') ?? '');
            assert.equal(location.origin, publicEndpoint);
            assert.ok(location.searchParams.get('X-Amz-Signature'), `not presigned: ${location.href}`);
            const direct = await fetch(location, { method });
            assert.equal(direct.status, 200, `${method} ${location.href}`);
            if (method === 'GET') assert.equal(sha256(Buffer.from(await direct.arrayBuffer())), digest);
            else await direct.arrayBuffer();
          }
        }
        // Following the redirect gives the same bytes as a client sees through Berth.
        assert.equal(await assertBlobsServed(reg.url, name, manifest), 2);
      });
    } finally {
      await publicProxy.close();
    }
  });
});
