import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { parse } from 'yaml';
import { MT, getRaw, pushImage } from '../api/helpers';
import { startRegistry } from '../api/server';
import { USERS, authConfig, authFixture, startAuthRegistry } from '../auth/helpers';
import { startBerthProcess } from '../helpers/berth-process';
import { removeTree } from '../helpers/daemon';
import { berthAccepts, berthCheck, podStart } from './helm-render/berth-config';
import { assertValidObjects } from './helm-render/k8s-schema';
import { mainContainer, podSpec, workload } from './helm-render/pod-spec';
import { assertSchemaRefuses, CHART_DIR, only, render, renderChart, REPO_ROOT, rendererPrerequisites, type K8sObject } from './helm-render/render';

/*
 * The chart deploying Berth as a pull-through mirror (README "Pull-through mirror", worked example):
 * examples/mirror.yaml rendered, accepted by Berth's own config check, and served by a Berth process
 * started from the rendered config file and environment, pulling the way containerd, CRI-O/podman
 * and dockerd ask.
 */

const skip = rendererPrerequisites();
const EXAMPLE = path.join(CHART_DIR, 'examples', 'mirror.yaml');
const HUB_SECRET = { 'dockerhub-pull': { username: 'alice', password: USERS.alice } };

const example = async (): Promise<Record<string, any>> => parse(await readFile(EXAMPLE, 'utf8')) as Record<string, any>;
const configMap = (objects: K8sObject[]) => parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;

/** The mount of the spool directory Berth was configured with, and the emptyDir behind it. */
function spoolVolume(objects: K8sObject[], spooldirectory: string): { sizeLimit?: string } {
  const w = workload(objects);
  const mount = mainContainer(w).volumeMounts?.find((m) => m.mountPath === spooldirectory);
  assert.ok(mount, `nothing is mounted at mirror.spooldirectory ${spooldirectory}`);
  const volume = podSpec(w).volumes.find((v) => v.name === mount.name);
  assert.ok(volume?.emptyDir, 'the spool is an emptyDir');
  return volume.emptyDir;
}

describe('the Helm chart as a pull-through mirror', { skip, timeout: 600_000 }, () => {
  it('renders examples/mirror.yaml: the list through the environment with credentials from the Secret, a spool emptyDir; Berth accepts it', async () => {
    const objects = await render(await example());
    await assertValidObjects(objects);
    const c = mainContainer(workload(objects));
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(configMap(objects).mirrors, undefined, 'a list with credentials stays out of the ConfigMap');
    const refs = (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])).filter((r) => r.name === 'dockerhub-pull');
    assert.deepEqual(refs, [
      { name: 'dockerhub-pull', key: 'username' },
      { name: 'dockerhub-pull', key: 'password' },
    ]);
    assert.ok(!objects.some((o) => o.kind === 'Secret' && o.metadata.name === 'dockerhub-pull'), 'the chart never writes the credentials Secret');

    const { effective, leftOut } = await berthCheck(objects, HUB_SECRET);
    assert.deepEqual(
      effective.mirrors.map((m: { prefix: string; url: string }) => [m.prefix, m.url]),
      [
        ['docker.io', 'https://registry-1.docker.io'],
        ['ghcr.io', 'https://ghcr.io'],
        ['quay.io', 'https://quay.io'],
      ],
    );
    assert.equal(effective.mirrors[0].default, true);
    assert.ok(leftOut.includes('mirrors.0.password'), 'the password is set (and left out of what config check prints)');
    assert.equal(effective.mirrors[1].username, undefined, 'anonymous where no Secret is named');
    assert.equal(effective.mirrors[1].tagttl, 60_000);
    assert.equal(spoolVolume(objects, effective.mirror.spooldirectory).sizeLimit, '20Gi');
    assert.equal(effective.storage.maintenance.gc.enabled, true);
  });

  it('writes a list without credentials into the ConfigMap, and mounts no spool without a mirror', async () => {
    const objects = await render({ mirrors: [{ prefix: 'ghcr.io', url: 'https://ghcr.io', namespaces: ['ghcr.io'] }] });
    const config = configMap(objects);
    assert.deepEqual(config.mirrors, [{ prefix: 'ghcr.io', url: 'https://ghcr.io', namespaces: ['ghcr.io'] }]);
    const effective = await berthAccepts(objects);
    assert.equal(spoolVolume(objects, effective.mirror.spooldirectory).sizeLimit, '10Gi');

    const plain = await render({});
    assert.equal(configMap(plain).mirror, undefined);
    assert.equal(configMap(plain).proxy, undefined);
    assert.deepEqual(
      podSpec(workload(plain)).volumes.map((v) => v.name),
      ['config', 'tmp'],
    );
  });

  it('serves pulls as nodes ask (ns=, the prefix, the default mirror) from the upstreams the values name, with the Secret\'s credentials', async () => {
    const fixture = await authFixture();
    const hub = await startAuthRegistry(authConfig({ htpasswd: { realm: 'hub', path: fixture.htpasswd } }));
    const ghcr = await startRegistry();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-helm-mirror-'));
    let berth: Awaited<ReturnType<typeof startBerthProcess>> | undefined;
    try {
      const app = await pushImage(request.agent(hub.url).auth('alice', USERS.alice), 'library/app', 'v1');
      const tool = await pushImage(ghcr.r(), 'owner/tool', 'v1');
      const values = await example();
      values.mirrors[0].url = hub.url;
      values.mirrors[1].url = ghcr.url;
      const { config, env } = podStart(await render(values), HUB_SECRET);
      const file = path.join(dir, 'config.yml');
      await writeFile(file, config);
      // Only where the pod's volumes are differs here; the mirrors come from the rendered config and environment.
      berth = await startBerthProcess({
        args: ['--config', file],
        env: { ...env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, 'data'), REGISTRY_MIRROR_SPOOLDIRECTORY: path.join(dir, 'spool') },
      });
      const agent = request.agent(berth.url);
      const manifest = (p: string) => getRaw(agent, p).set('Accept', MT.ociManifest);

      const containerd = await manifest('/v2/library/app/manifests/v1?ns=docker.io').expect(200);
      assert.deepEqual(containerd.body, app.manifest.data);
      assert.equal(containerd.headers['oci-namespace'], 'docker.io');
      assert.deepEqual((await manifest('/v2/docker.io/library/app/manifests/v1').expect(200)).body, app.manifest.data, 'registries.conf: the prefix');
      assert.deepEqual((await manifest('/v2/app/manifests/v1').expect(200)).body, app.manifest.data, 'registry-mirrors: the default mirror, library/ added');
      assert.deepEqual((await getRaw(agent, `/v2/library/app/blobs/${app.layer.digest}?ns=docker.io`).expect(200)).body, app.layer.data);
      assert.deepEqual((await manifest('/v2/owner/tool/manifests/v1?ns=ghcr.io').expect(200)).body, tool.manifest.data);
      await agent.post('/v2/docker.io/library/app/blobs/uploads/').expect(405);
      assert.doesNotMatch(berth.logs(), new RegExp(USERS.alice), 'the upstream password is not logged');
    } finally {
      await berth?.stop();
      await hub.close();
      await ghcr.close();
      await fixture.cleanup();
      await removeTree(dir);
    }
  });

  it('proxy: the whole registry mirrors one upstream with credentials from a Secret; the helm test, which pushes, is refused', async () => {
    const values = { proxy: { remoteurl: 'https://registry-1.docker.io', maxsize: 50_000_000_000, existingSecret: 'hub', usernameKey: 'user', passwordKey: 'token' }, tests: { enabled: false } };
    const objects = await render(values);
    const config = configMap(objects);
    assert.deepEqual(config.proxy, { remoteurl: 'https://registry-1.docker.io', ttl: '168h', maxsize: 50_000_000_000 });
    const { effective, leftOut } = await berthCheck(objects, { hub: { user: 'alice', token: 'dckr_pat_from-the-secret' } });
    assert.equal(effective.proxy.remoteurl, 'https://registry-1.docker.io');
    assert.equal(effective.proxy.username, 'alice');
    assert.ok(leftOut.includes('proxy.password'), 'the token is set (and left out of what config check prints)');
    assert.equal(effective.proxy.maxsize, 50_000_000_000);
    spoolVolume(objects, effective.mirror.spooldirectory);

    const withTest = await renderChart({ proxy: { remoteurl: 'https://registry-1.docker.io' } });
    assert.notEqual(withTest.code, 0);
    assert.match(withTest.stderr, /proxy makes the registry pull-only.*tests\.enabled=false/);
  });

  describe('values.schema.json', () => {
    it('refuses credentials in values, entries without prefix or url, bad names and URLs', async () => {
      await assertSchemaRefuses({ mirrors: [{ prefix: 'docker.io', url: 'https://registry-1.docker.io', username: 'u', password: 'p' }] }, /mirrors\.0: Additional property (username|password) is not allowed/);
      await assertSchemaRefuses({ mirrors: [{ prefix: 'docker.io' }] }, /url/);
      await assertSchemaRefuses({ mirrors: [{ url: 'https://ghcr.io' }] }, /prefix/);
      await assertSchemaRefuses({ mirrors: [{ prefix: 'Docker.io:5000', url: 'https://registry-1.docker.io' }] }, /prefix/);
      await assertSchemaRefuses({ mirrors: [{ prefix: 'ghcr.io', url: 'ghcr.io' }] }, /url/);
      await assertSchemaRefuses({ mirrors: [{ prefix: 'ghcr.io', url: 'https://ghcr.io', tagttl: 'soon' }] }, /tagttl/);
      await assertSchemaRefuses({ proxy: { remoteurl: 'https://registry-1.docker.io', password: 'p' } }, /password/);
      await assertSchemaRefuses({ proxy: { remoteurl: 'ftp://mirror.example' } }, /remoteurl/);
      await assertSchemaRefuses({ mirror: { spoolSizeLimit: 'lots' } }, /spoolSizeLimit/);
    });

    it('refuses proxy together with mirrors', () =>
      assertSchemaRefuses({ proxy: { remoteurl: 'https://registry-1.docker.io' }, mirrors: [{ prefix: 'ghcr.io', url: 'https://ghcr.io' }], tests: { enabled: false } }, /mirrors: Array must have at most 0 items/));
  });
});

describe("the README's worked example for a cluster", () => {
  it('shows examples/mirror.yaml as it is', async () => {
    const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.startsWith('# helm/berth/examples/mirror.yaml'));
    assert.ok(block, 'README.md has a yaml block starting "# helm/berth/examples/mirror.yaml"');
    assert.deepEqual(parse(block), await example());
  });
});
