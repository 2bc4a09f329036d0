import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeContainersEnv, policyFlag, type ContainersEnv } from '../helpers/containers-env';
import { startE2eRegistry, withRegistryLogs, type E2eRegistry } from '../helpers/e2e-registry';
import { run } from '../helpers/exec';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  foreignArch,
  hostArch,
  layoutBlobPath,
  layoutIndex,
  layoutManifest,
  sha256,
  umociImage,
  type LayoutManifest,
} from '../helpers/images';
import { assertBlobsServed, fetchManifest } from '../helpers/registry-client';
import { requireTools } from '../helpers/tools';

const skip = requireTools(['skopeo', 'umoci', 'busybox']);

describe('skopeo against Berth', { skip, timeout: 300_000 }, () => {
  let registry: E2eRegistry | undefined;
  let containers: ContainersEnv | undefined;
  let work: string;
  let layout: string;
  let image: LayoutManifest;
  let index: LayoutManifest;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'e2e-skopeo-'));
    containers = await makeContainersEnv();
    registry = await startE2eRegistry();
    layout = path.join(work, 'layout');
    image = await umociImage(layout, 'v1', { message: 'skopeo e2e' });
    await umociImage(layout, 'foreign', { message: 'skopeo e2e foreign', arch: foreignArch() });
    index = await layoutIndex(layout, 'multi', [
      { tag: 'v1', arch: hostArch() },
      { tag: 'foreign', arch: foreignArch() },
    ]);
  });

  after(async () => {
    await registry?.stop();
    await containers?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  const skopeo = (args: string[]) => run('skopeo', [policyFlag(containers!), ...args], { env: containers!.env });
  /** skopeo copy to or from Berth; returns the digest skopeo reports for what it wrote. */
  const copy = async (flags: string[], src: string, dest: string): Promise<{ digest: string; stderr: string }> => {
    const digestFile = path.join(work, `digest-${Date.now()}-${Math.random()}`);
    const result = await skopeo([
      ...(flags.includes('--debug') ? ['--debug'] : []),
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--digestfile', digestFile,
      ...flags.filter((f) => f !== '--debug'),
      src,
      dest,
    ]);
    return { digest: (await readFile(digestFile, 'utf8')).trim(), stderr: result.stderr };
  };
  const to = (ref: string) => `docker://${registry!.host}/${ref}`;

  test('copy of an umoci-made OCI layout keeps the manifest byte for byte', () =>
    withRegistryLogs(registry, async () => {
      assert.equal(image.json.mediaType, undefined, 'umoci writes no mediaType: the registry takes it from the request');
      const { digest } = await copy([], `oci:${layout}:v1`, to('e2e/oci:v1'));
      assert.equal(digest, image.digest);
      const served = await fetchManifest(registry!.url, 'e2e/oci', 'v1');
      assert.equal(served.digest, image.digest);
      assert.equal(served.contentType, OCI_MANIFEST);
      assert.deepEqual(served.body, image.bytes);
      assert.equal(await assertBlobsServed(registry!.url, 'e2e/oci', served.body), 2);

      // And back into a fresh layout: same manifest, same layer bytes.
      const back = path.join(work, 'back');
      await copy([], to('e2e/oci:v1'), `oci:${back}:v1`);
      const pulled = await layoutManifest(back, 'v1');
      assert.equal(pulled.digest, image.digest);
      const layer = image.json.layers![0].digest;
      assert.equal(sha256(await readFile(layoutBlobPath(back, layer))), layer);
    }));

  test('copy --format v2s2 stores a Docker schema 2 manifest', () =>
    withRegistryLogs(registry, async () => {
      const { digest } = await copy(['--format', 'v2s2'], `oci:${layout}:v1`, to('e2e/v2s2:v1'));
      const served = await fetchManifest(registry!.url, 'e2e/v2s2', 'v1');
      assert.equal(served.digest, digest);
      assert.equal(served.contentType, DOCKER_MANIFEST);
      const json = JSON.parse(served.body.toString('utf8')) as { mediaType: string; config: { digest: string } };
      assert.equal(json.mediaType, DOCKER_MANIFEST);
      assert.equal(json.config.digest, image.json.config!.digest);
      assert.equal(await assertBlobsServed(registry!.url, 'e2e/v2s2', served.body), 2);
    }));

  test('copy --all of a two-platform OCI index, and of the same as a Docker manifest list', () =>
    withRegistryLogs(registry, async () => {
      const oci = await copy(['--all'], `oci:${layout}:multi`, to('e2e/multi:v1'));
      assert.equal(oci.digest, index.digest);
      const served = await fetchManifest(registry!.url, 'e2e/multi', 'v1');
      assert.equal(served.digest, index.digest);
      assert.equal(served.contentType, OCI_INDEX);
      assert.deepEqual(served.body, index.bytes);
      for (const child of index.json.manifests!) {
        const m = await fetchManifest(registry!.url, 'e2e/multi', child.digest);
        assert.equal(m.digest, child.digest);
        await assertBlobsServed(registry!.url, 'e2e/multi', m.body);
      }

      const list = await copy(['--all', '--format', 'v2s2'], `oci:${layout}:multi`, to('e2e/list:v1'));
      const servedList = await fetchManifest(registry!.url, 'e2e/list', 'v1');
      assert.equal(servedList.digest, list.digest);
      assert.equal(servedList.contentType, DOCKER_LIST);
      const children = (JSON.parse(servedList.body.toString('utf8')) as { manifests: { digest: string; mediaType: string }[] }).manifests;
      assert.equal(children.length, 2);
      for (const child of children) {
        assert.equal(child.mediaType, DOCKER_MANIFEST);
        const m = await fetchManifest(registry!.url, 'e2e/list', child.digest);
        assert.equal(m.contentType, DOCKER_MANIFEST);
      }
    }));

  test('repository-to-repository copy mounts the blobs instead of uploading them', () =>
    withRegistryLogs(registry, async () => {
      await copy([], `oci:${layout}:v1`, to('e2e/source:v1'));
      const { digest, stderr } = await copy(['--debug'], to('e2e/source:v1'), to('other/mounted:v1'));
      assert.equal(digest, image.digest);
      // skopeo logs "mount OK" only when the registry answered the mount POST with 201.
      assert.match(stderr, /Trying to mount \/v2\/other\/mounted\/blobs\/uploads\/\?from=e2e%2F[a-z0-9]+&mount=sha256%3A/);
      assert.match(stderr, /mount OK/);
      const served = await fetchManifest(registry!.url, 'other/mounted', 'v1');
      assert.equal(served.digest, image.digest);
      assert.equal(await assertBlobsServed(registry!.url, 'other/mounted', served.body), 2);
    }));

  test('skopeo inspect and list-tags', () =>
    withRegistryLogs(registry, async () => {
      await copy([], `oci:${layout}:v1`, to('e2e/inspect:v1'));
      await copy([], `oci:${layout}:v1`, to('e2e/inspect:v2'));
      const info = JSON.parse((await skopeo(['inspect', '--tls-verify=false', to('e2e/inspect:v1')])).stdout) as {
        Digest: string;
        RepoTags: string[];
        Layers: string[];
        Architecture: string;
        Os: string;
      };
      assert.equal(info.Digest, image.digest);
      assert.deepEqual(info.RepoTags, ['v1', 'v2']);
      assert.deepEqual(info.Layers, image.json.layers!.map((l) => l.digest));
      assert.equal(info.Architecture, hostArch());
      assert.equal(info.Os, 'linux');

      const raw = (await skopeo(['inspect', '--tls-verify=false', '--raw', to('e2e/inspect:v1')])).stdout;
      assert.equal(raw, image.bytes.toString('utf8'));
      const tags = JSON.parse((await skopeo(['list-tags', '--tls-verify=false', to('e2e/inspect')])).stdout) as { Tags: string[] };
      assert.deepEqual(tags.Tags, ['v1', 'v2']);
    }));
});
