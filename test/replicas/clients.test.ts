import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startContainerd, type Containerd } from '../helpers/containerd';
import { makeContainersEnv, policyFlag, type ContainersEnv } from '../helpers/containers-env';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run } from '../helpers/exec';
import { DOCKER_MANIFEST, OCI_MANIFEST, umociImage, writeBuildContext, type LayoutManifest } from '../helpers/images';
import { assertBlobsServed, fetchManifest } from '../helpers/registry-client';
import type { ProxiedRequest, RoundRobinProxy } from '../helpers/round-robin-proxy';
import { requireTools } from '../helpers/tools';
import { STORE_KINDS_WITH_REDIRECTS, describeOnStores, withClusterLogs, type Cluster } from './cluster';

const skip = requireTools(['dockerd', 'docker', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'runc', 'skopeo', 'umoci', 'busybox', 'tar'], {
  root: true,
});

const MESSAGE = 'hello from docker via two berth replicas';

/** Requests of the last client command, per replica, and which uploads crossed replicas. */
function traffic(proxy: RoundRobinProxy): { counts: number[]; requests: ProxiedRequest[]; crossed: number; uploads: number } {
  const requests = proxy.requests();
  const sessions = new Map<string, Set<number>>();
  for (const r of requests) {
    const uuid = /\/blobs\/uploads\/([^/?]+)/.exec(r.url)?.[1];
    if (!uuid) continue;
    if (!sessions.has(uuid)) sessions.set(uuid, new Set());
    sessions.get(uuid)!.add(r.backend);
  }
  const crossed = [...sessions.values()].filter((b) => b.size > 1).length;
  return { counts: proxy.counts(), requests, crossed, uploads: sessions.size };
}

function assertBothServed(proxy: RoundRobinProxy, what: string): ReturnType<typeof traffic> {
  const t = traffic(proxy);
  assert.ok(
    t.counts.every((n) => n > 0),
    `${what}: every replica should have served requests, counts ${JSON.stringify(t.counts)}\n${t.requests.map((r) => `${r.backend} ${r.method} ${r.url} ${r.status}`).join('\n')}`,
  );
  return t;
}

/** The same manifest, whole, from every replica, and every blob it names. */
async function assertServedByEveryReplica(cluster: Cluster, name: string, ref: string, digest: string): Promise<void> {
  for (const r of cluster.replicas) {
    const served = await fetchManifest(r.url, name, ref);
    assert.equal(served.digest, digest, `${name}:${ref} from ${r.url}`);
    assert.ok((await assertBlobsServed(r.url, name, served.body)) >= 2);
  }
}

describe('real clients through a round-robin proxy over two replicas', { skip, timeout: 900_000 }, () => {
  let work: string;
  let dockerd: Dockerd | undefined;
  let containerd: Containerd | undefined;
  let containers: ContainersEnv | undefined;
  let layout: string;
  let image: LayoutManifest;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'replicas-clients-'));
    // One after another, so that whatever started is stopped by after() even if a later start fails.
    dockerd = await startDockerd();
    containerd = await startContainerd();
    containers = await makeContainersEnv();
    layout = path.join(work, 'layout');
    image = await umociImage(layout, 'v1', { message: 'hello from an umoci layout via two berth replicas' });
    await run('tar', ['-C', layout, '-cf', path.join(work, 'layout.tar'), '.']);
  });

  after(async () => {
    await Promise.allSettled([dockerd?.stop(), containerd?.stop(), containers?.cleanup()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  let stores = 0;
  describeOnStores('clients', { timeout: 600_000, kinds: STORE_KINDS_WITH_REDIRECTS }, (cluster) => {
    const store = ++stores;

    test('docker push, then rmi, pull and run', () =>
      withClusterLogs(cluster(), async () => {
        const { proxy } = cluster();
        const docker = (...args: string[]) => dockerd!.docker(args);
        const ref = `${proxy.host}/replicas/docker:v1`;
        const message = `${MESSAGE} on ${cluster().store}`;
        const ctx = path.join(work, `hello-${store}`);
        await writeBuildContext(ctx, message);
        await docker('build', '--quiet', '--tag', ref, ctx);
        const builtId = (await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim();

        proxy.reset();
        const pushOut = await docker('push', ref);
        const pushed = /v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(pushOut);
        assert.ok(pushed, `no digest in docker push output:\n${pushOut}`);
        const push = assertBothServed(proxy, 'docker push');
        console.log(
          `[${cluster().store}] docker push: requests per replica ${JSON.stringify(push.counts)}; ` +
            `${push.crossed} of ${push.uploads} upload sessions spanned both replicas\n` +
            push.requests.map((r) => `  replica ${r.backend}: ${r.method} ${r.url.replace(/_state=[^&]+/, '_state=…')} → ${r.status}`).join('\n'),
        );
        // docker sends its blobs one after another, each as POST, PATCH, PUT: round robin splits them.
        assert.ok(push.crossed >= 1, 'no upload session of the push spanned both replicas');
        const served = await fetchManifest(proxy.url, 'replicas/docker', 'v1');
        assert.equal(served.digest, pushed[1]);
        assert.equal(served.body.length, Number(pushed[2]));
        assert.equal(served.contentType, DOCKER_MANIFEST);
        await assertServedByEveryReplica(cluster(), 'replicas/docker', 'v1', pushed[1]);

        await docker('rmi', ref);
        proxy.reset();
        const pullOut = await docker('pull', ref);
        assert.match(pullOut, new RegExp(`Digest: ${pushed[1]}`));
        const pull = assertBothServed(proxy, 'docker pull');
        const blobGets = pull.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/v2/replicas/docker/blobs/'));
        assert.ok(blobGets.length >= 2, 'docker pulled the config and the layer');
        for (const r of blobGets) assert.equal(r.status, cluster().redirects ? 307 : 200, `${r.method} ${r.url}`);
        assert.equal((await docker('image', 'inspect', '--format', '{{.Id}}', ref)).trim(), builtId);
        assert.equal(await docker('run', '--rm', '--network', 'none', ref), `${message}\n`);
        // The next store's image shares the busybox layer: without this its pull would skip the layer.
        await docker('rmi', ref);
      }));

    test('skopeo copy of an umoci layout up, then repository to repository', () =>
      withClusterLogs(cluster(), async () => {
        const { proxy } = cluster();
        const copy = async (args: string[]): Promise<string> => {
          const digestFile = path.join(work, `digest-${store}-${Date.now()}`);
          await run('skopeo', [policyFlag(containers!), 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--digestfile', digestFile, ...args], {
            env: containers!.env,
          });
          return (await readFile(digestFile, 'utf8')).trim();
        };

        proxy.reset();
        assert.equal(await copy([`oci:${layout}:v1`, `docker://${proxy.host}/replicas/skopeo:v1`]), image.digest);
        const up = assertBothServed(proxy, 'skopeo copy up');
        assert.ok(up.crossed >= 1, 'no upload session of the copy spanned both replicas');
        const served = await fetchManifest(proxy.url, 'replicas/skopeo', 'v1');
        assert.equal(served.contentType, OCI_MANIFEST);
        assert.deepEqual(served.body, image.bytes);
        await assertServedByEveryReplica(cluster(), 'replicas/skopeo', 'v1', image.digest);

        proxy.reset();
        const copied = await copy([`docker://${proxy.host}/replicas/skopeo:v1`, `docker://${proxy.host}/replicas/skopeo-copy:v2`]);
        assert.equal(copied, image.digest);
        assertBothServed(proxy, 'skopeo copy repository to repository');
        await assertServedByEveryReplica(cluster(), 'replicas/skopeo-copy', 'v2', image.digest);
      }));

    test('ctr push --plain-http (monolithic uploads), then ctr pull into a fresh namespace', () =>
      withClusterLogs(cluster(), async () => {
        const { proxy } = cluster();
        const ctr = containerd!.ctr;
        const base = `${proxy.host}/replicas/ctr`;
        const ref = `${base}:v1`;
        const ns = { namespace: `replicas-push-${store}` };
        await ctr(['images', 'import', '--base-name', base, path.join(work, 'layout.tar')], ns);

        proxy.reset();
        await ctr(['images', 'push', '--plain-http', ref], ns);
        const push = assertBothServed(proxy, 'ctr push');
        const uploads = push.requests.filter((r) => r.url.startsWith('/v2/replicas/ctr/blobs/uploads/'));
        assert.equal(uploads.filter((r) => r.method === 'POST' && r.status === 202).length, 2, JSON.stringify(uploads));
        assert.equal(uploads.filter((r) => r.method === 'PUT' && r.status === 201 && /[?&]digest=/.test(r.url)).length, 2, JSON.stringify(uploads));
        assert.equal(uploads.filter((r) => r.method === 'PATCH').length, 0, 'ctr sends each blob in one PUT');
        const served = await fetchManifest(proxy.url, 'replicas/ctr', 'v1');
        assert.deepEqual(served.body, image.bytes);
        await assertServedByEveryReplica(cluster(), 'replicas/ctr', 'v1', image.digest);

        const pullNs = { namespace: `replicas-pull-${store}` };
        proxy.reset();
        await ctr(['images', 'pull', '--plain-http', ref], pullNs);
        assertBothServed(proxy, 'ctr pull');
        const row = (await ctr(['images', 'ls'], pullNs)).split('\n').find((l) => l.startsWith(ref + ' '));
        assert.ok(row, `${ref} not listed after the pull`);
        assert.equal(row.split(/\s+/)[2], image.digest);
        // containerd verifies each digest as it commits content: present means verified.
        const content = await ctr(['content', 'ls', '--quiet'], pullNs);
        for (const d of [image.digest, image.json.config!.digest, image.json.layers![0].digest]) assert.ok(content.includes(d), `${d} not in\n${content}`);
      }));
  });
});
