import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startBerthProcess } from '../helpers/berth-process';
import { distributionGarbageCollect, distributionSkipReason, startDistribution } from '../helpers/distribution';
import { diffLayoutTrees, readLayoutTree, type LayoutTree } from './layout-tree';
import { OCI_MANIFEST, OciClient, jsonBytes, sha256 } from './oci-client';
import { pullBackWithSkopeo, type PulledBack } from './pull-back';
import { pushScenario, type Scenario } from './scenario';
import { assertReferrerListed, assertSameSnapshots, assertSnapshotMatches, takeSnapshot } from './snapshot';
import { makeSkopeoHome, makeUmociLayout, toolsSkipReason } from './tools';

/*
 * docs/architecture.md, "On-storage layout": a directory written by CNCF Distribution 2.8 is served
 * by Berth as is, and back. Each direction pushes the same fixed content (scenario.ts) through one
 * registry, reads everything back through the other on the same directory, and the two trees on
 * disk are compared file by file.
 */

let work = '';
let layout = '';
let skopeoHome = '';
let skipReason: string | undefined;
const trees: Partial<Record<'distBeforeDelete' | 'distAfter' | 'berthBeforeDelete' | 'berthAfter', LayoutTree>> = {};
const pulled: Partial<Record<'distribution' | 'berth', PulledBack>> = {};

async function startBerth(t: TestContext, rootDirectory: string) {
  const berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: rootDirectory } });
  t.after(() => berth.stop());
  return { berth, client: new OciClient(berth.url) };
}

async function startDist(t: TestContext, rootDirectory: string) {
  const dist = await startDistribution({ rootDirectory });
  t.after(() => dist.stop());
  return { dist, client: new OciClient(dist.url) };
}

function blobs(s: Scenario): Array<{ repo: string; digest: string }> {
  return s.blobs.map((b) => ({ repo: b.repo, digest: b.digest }));
}

function extras(s: Scenario): Array<{ repo: string; digest: string }> {
  return [...s.manifests.map((m) => ({ repo: m.repo, digest: m.digest })), ...s.deleted];
}

function expectedPulls(s: Scenario): Record<string, string> {
  const byTag = (repo: string, tag: string) => {
    const m = s.manifests.find((x) => x.repo === repo && x.tags.includes(tag));
    assert.ok(m, `scenario has ${repo}:${tag}`);
    return m.digest;
  };
  const refs = ['alpha:v1', 'alpha:umoci', 'alpha:multi', 'team/app:multi', 'team/app:v2s2'];
  return Object.fromEntries(refs.map((r) => [r, byTag(r.slice(0, r.lastIndexOf(':')), r.slice(r.lastIndexOf(':') + 1))]));
}

describe('Distribution 2.8 on-disk layout, both ways', () => {
  before(async () => {
    skipReason = (await distributionSkipReason()) ?? (await toolsSkipReason());
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-interop-'));
    if (skipReason) return;
    layout = await makeUmociLayout(path.join(work, 'umoci'));
    skopeoHome = await makeSkopeoHome(path.join(work, 'skopeo-home'));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('Distribution writes, Berth serves it, Berth writes, Distribution serves that', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const dir = path.join(work, 'distribution-first');

    const d1 = await startDist(t, dir);
    const s = await pushScenario(d1.client, { skopeoHome, layout, beforeDelete: async () => void (trees.distBeforeDelete = await readLayoutTree(dir)) });
    trees.distAfter = await readLayoutTree(dir);
    const distSnap = await takeSnapshot(d1.client, extras(s), blobs(s));
    // The scenario's own expectations must hold on the reference implementation first.
    assertSnapshotMatches(distSnap, s, 'Distribution', { sortedTags: false });
    pulled.distribution = await pullBackWithSkopeo(skopeoHome, d1.dist.url, path.join(work, 'pull-distribution'));
    assert.deepEqual(pulled.distribution.digests, expectedPulls(s), 'skopeo from Distribution');
    await d1.dist.stop();

    const b = await startBerth(t, dir);
    const berthSnap = await takeSnapshot(b.client, extras(s), blobs(s));
    await t.test('Berth serves what Distribution wrote', () => assertSnapshotMatches(berthSnap, s, 'Berth on a Distribution directory', { sortedTags: true }));
    await t.test('Berth answers every read as Distribution did', () => assertSameSnapshots(distSnap, berthSnap, 'Distribution', 'Berth'));
    // Distribution 2.8 keeps no referrers index: Berth must still find the artifact pushed through it.
    await t.test('Berth lists a referrer pushed through Distribution', () => assertReferrerListed(b.client, s, 'Berth on a Distribution directory'));
    await t.test('skopeo pulls the same from Berth as from Distribution', async () => {
      pulled.berth = await pullBackWithSkopeo(skopeoHome, b.berth.url, path.join(work, 'pull-berth'));
      assert.deepEqual(pulled.berth, pulled.distribution);
    });

    // Berth now writes into Distribution's directory: a new tag, a new repository, a tag delete,
    // and a manifest delete by digest.
    const layer2 = s.blobs.find((x) => x.repo === 'alpha' && x.bytes.length === 1000)!;
    const configBytes = jsonBytes({ architecture: 'riscv64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
    const config = await b.client.pushBlobChunked('alpha', configBytes, 16);
    const newManifest = jsonBytes({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer2.digest, size: 1000 }],
    });
    const newDigest = await b.client.putManifest('alpha', 'berth-new', newManifest, OCI_MANIFEST);
    assert.equal(await b.client.mountBlob('made/by-berth', layer2.digest, 'alpha'), 201);
    assert.equal(await b.client.mountBlob('made/by-berth', config, 'alpha'), 201);
    await b.client.putManifest('made/by-berth', 'only', newManifest, OCI_MANIFEST);
    assert.equal((await b.client.deleteManifest('alpha', 'latest')).status, 202, 'Berth deletes tag alpha:latest');
    const untagged = s.manifests.find((m) => m.repo === 'alpha' && m.tags.length === 0 && m.bytes?.includes('untagged'))!;
    assert.equal((await b.client.deleteManifest('alpha', untagged.digest)).status, 202, 'Berth deletes an untagged manifest');

    const gone = [...s.deleted, { repo: 'alpha', digest: untagged.digest }];
    const known = [...extras(s).filter((x) => x.digest !== untagged.digest), { repo: 'alpha', digest: newDigest }, { repo: 'made/by-berth', digest: newDigest }, ...gone];
    const berthSnap2 = await takeSnapshot(b.client, known, blobs(s));
    await b.berth.stop();

    const d2 = await startDist(t, dir);
    const distSnap2 = await takeSnapshot(d2.client, known, blobs(s));
    await t.test('Distribution answers every read as Berth did after its writes', () => assertSameSnapshots(berthSnap2, distSnap2, 'Berth', 'Distribution'));
    await t.test('Distribution sees what Berth wrote into its directory', async () => {
      assert.deepEqual(await d2.client.catalog(), ['alpha', 'blobs/only', 'digest/only', 'made/by-berth', 'team/app']);
      assert.deepEqual((await d2.client.tags('alpha')).sort(), ['bare-index', 'berth-new', 'moving', 'multi', 'umoci', 'v1']);
      assert.deepEqual(await d2.client.tags('made/by-berth'), ['only']);
      const got = await d2.client.getManifest('alpha', 'berth-new');
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(newManifest), 'Distribution serves the manifest Berth wrote, byte for byte');
      assert.equal(got.headers.get('docker-content-digest'), newDigest);
      assert.equal(sha256((await d2.client.getBlob('made/by-berth', config)).body), config);
      assert.equal((await d2.client.getManifest('alpha', untagged.digest)).status, 404, 'the manifest Berth deleted is gone');
      assert.equal((await d2.client.getManifest('alpha', 'latest')).status, 404, 'the tag Berth deleted is gone');
      assert.equal((await d2.client.getManifest('alpha', 'v1')).status, 200, 'the manifest behind the deleted tag stays');
    });
  });

  test('Berth writes, Distribution serves it', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const dir = path.join(work, 'berth-first');

    const b = await startBerth(t, dir);
    const s = await pushScenario(b.client, { skopeoHome, layout, beforeDelete: async () => void (trees.berthBeforeDelete = await readLayoutTree(dir)) });
    trees.berthAfter = await readLayoutTree(dir);
    const firstSnap = await takeSnapshot(b.client, extras(s), blobs(s));
    await t.test('Berth serves what it wrote', () => assertSnapshotMatches(firstSnap, s, 'Berth', { sortedTags: true }));
    await t.test('Berth lists a referrer pushed to it', () => assertReferrerListed(b.client, s, 'Berth'));

    // A tagged manifest deleted by digest takes its tag with it.
    const tagged = s.manifests.find((m) => m.repo === 'team/app' && m.tags.includes('1.0'))!;
    assert.equal((await b.client.deleteManifest('team/app', tagged.digest)).status, 202);
    s.manifests = s.manifests.filter((m) => m !== tagged);
    s.deleted.push({ repo: 'team/app', digest: tagged.digest });
    s.tags['team/app'] = s.tags['team/app'].filter((x) => x !== '1.0');
    const berthSnap = await takeSnapshot(b.client, extras(s), blobs(s));
    await t.test('Berth serves the rest after a delete', () => assertSnapshotMatches(berthSnap, s, 'Berth after delete', { sortedTags: true }));
    await b.berth.stop();

    const d = await startDist(t, dir);
    const distSnap = await takeSnapshot(d.client, extras(s), blobs(s));
    await t.test('Distribution serves what Berth wrote', () => assertSnapshotMatches(distSnap, s, 'Distribution on a Berth directory', { sortedTags: false }));
    await t.test('Distribution answers every read as Berth did', () => assertSameSnapshots(berthSnap, distSnap, 'Berth', 'Distribution'));
    assert.equal((await d.client.getManifest('team/app', '1.0')).status, 404, 'Distribution agrees tag 1.0 went with its manifest');
    const pulledBack = await pullBackWithSkopeo(skopeoHome, d.dist.url, path.join(work, 'pull-berth-first'));
    assert.deepEqual(pulledBack.digests, expectedPulls(s), 'skopeo from Distribution on a Berth directory');
    if (pulled.distribution) assert.deepEqual(pulledBack, pulled.distribution, 'same content as Distribution wrote itself');
    await d.dist.stop();

    // Distribution's offline garbage collector on Berth's directory deletes unreferenced blob data but
    // leaves the repositories' links to it: both registries must then agree on every answer.
    const gcOutput = await distributionGarbageCollect(dir);
    assert.match(gcOutput, /[1-9]\d* blobs and 0 manifests eligible for deletion/, gcOutput);
    const d2 = await startDist(t, dir);
    const distAfterGc = await takeSnapshot(d2.client, extras(s), blobs(s));
    await d2.dist.stop();
    const b2 = await startBerth(t, dir);
    const berthAfterGc = await takeSnapshot(b2.client, extras(s), blobs(s));
    await t.test('after garbage-collect, Berth answers every read as Distribution does', () => assertSameSnapshots(distAfterGc, berthAfterGc, 'Distribution', 'Berth'));
    await t.test('after garbage-collect, Berth still serves every manifest', () => {
      for (const m of s.manifests) {
        for (const ref of [`${m.repo}@${m.digest}`, ...m.tags.map((x) => `${m.repo}:${x}`)]) {
          assert.equal((berthAfterGc.get(`manifest ${ref}`) as { status: number } | undefined)?.status, 200, ref);
        }
      }
    });
  });

  test('the same push leaves the same files on disk', async (t) => {
    if (skipReason) return t.skip(skipReason);
    for (const stage of ['BeforeDelete', 'After'] as const) {
      await t.test(stage === 'After' ? 'after a manifest delete' : 'after the pushes', (st) => {
        const dist = trees[`dist${stage}`];
        const berth = trees[`berth${stage}`];
        assert.ok(dist && berth, 'both directions ran');
        const diff = diffLayoutTrees(dist, berth, 'Distribution', 'Berth');
        // Empty directories are a filesystem artefact (S3 has none) and Distribution leaves some
        // behind (a deleted manifest's revisions/<alg>/<hex>/); one that only Berth leaves could still
        // show up in Distribution's listings (a tags/<tag>/ directory is a tag to it), so those fail.
        const onlyBerth = diff.dirs.filter((d) => d.startsWith('dir only Berth'));
        for (const d of diff.dirs.filter((x) => !x.startsWith('dir only Berth'))) st.diagnostic(`${d} (empty, harmless)`);
        assert.deepEqual(diff.files, [], `files differ:\n${diff.files.join('\n')}`);
        assert.deepEqual(onlyBerth, [], `directories only Berth leaves:\n${onlyBerth.join('\n')}`);
      });
    }
  });
});
