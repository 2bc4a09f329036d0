import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { GarbageCollector, type GcReport } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { SWEEP_STATE } from '../../src/oci/gc-sweep-state';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { assertStoreConsistent } from '../helpers/store-check';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob, sha256 } from '../durability/push-client';

/** Everything written so far looks two hours old, as if pushed long before the collection. */
async function age(dir: string): Promise<void> {
  const then = new Date(Date.now() - 2 * 3_600_000);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await age(p);
    await utimes(p, then, then);
  }
}

type GatePoint = 'announce' | 'delete';

/**
 * The collector's driver, paused at one point of the sweep until released: when it announces the
 * sweep ('announce'; a collector that announces nothing pauses at its first delete instead), or at
 * its first delete of blob data ('delete').
 */
function gated(inner: StorageDriver, point: GatePoint) {
  let reached!: () => void;
  let release!: () => void;
  const atGate = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  let passed = false;
  const pause = async () => {
    if (passed) return;
    passed = true;
    reached();
    await released;
  };
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  driver.putContent = async (path, data, opts) => {
    if (point === 'announce' && path === SWEEP_STATE && JSON.parse(Buffer.from(data).toString()).sweeping) await pause();
    return inner.putContent(path, data, opts);
  };
  driver.delete = async (path) => {
    if (path.includes('/blobs/')) await pause();
    return inner.delete(path);
  };
  return { driver, atGate, release };
}

interface Scenario {
  name: string;
  /** After the gate: makes the orphaned layer part of a new image in `repo`; returns the manifest PUT's status. */
  push(base: string, layer: { digest: string; bytes: Buffer }): Promise<{ repo: string; status: number; blobs: string[] }>;
}

const manifestPut = async (base: string, repo: string, layer: { digest: string; bytes: Buffer }) => {
  const config = randomBlob(100, 200);
  const configDigest = await pushMonolithic(base, repo, config);
  const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layer.digest, size: layer.bytes.length }]);
  const res = await fetch(`${base}/v2/${repo}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  return { repo, status: res.status, blobs: [configDigest, layer.digest] };
};

const scenarios: Scenario[] = [
  {
    name: 'HEAD of the orphaned layer in its own repository, then a manifest that uses it',
    async push(base, layer) {
      // A client that sees 200 here uploads nothing, and writes no fresh link.
      assert.equal((await fetch(`${base}/v2/race/old/blobs/${layer.digest}`, { method: 'HEAD' })).status, 200);
      return manifestPut(base, 'race/old', layer);
    },
  },
  {
    name: "the layer's bytes uploaded again into a new repository, then a manifest",
    async push(base, layer) {
      const res = await fetch(`${base}/v2/race/new-upload/blobs/uploads/?digest=${layer.digest}`, { method: 'POST', body: layer.bytes });
      if (res.status !== 201) return { repo: 'race/new-upload', status: res.status, blobs: [] };
      return manifestPut(base, 'race/new-upload', layer);
    },
  },
  {
    name: 'the layer mounted into a new repository, then a manifest',
    async push(base, layer) {
      const res = await fetch(`${base}/v2/race/new-mount/blobs/uploads/?mount=${layer.digest}&from=race/old`, { method: 'POST' });
      // A refused mount (202) is an honest answer; the client would upload the layer then.
      return manifestPut(base, 'race/new-mount', layer);
    },
  },
];

describe('online garbage collection racing pushes that reuse an old, orphaned layer', { timeout: 120_000 }, () => {
  const roots: string[] = [];
  after(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });

  for (const point of ['announce', 'delete'] as const)
    for (const scenario of scenarios)
      it(`${scenario.name} (collector paused at ${point})`, async () => {
        const root = await mkdtemp(join(tmpdir(), 'berth-gc-race-'));
        roots.push(root);
        const registry: TestRegistry = await startRegistry({ driver: createFilesystemDriver({ rootDirectory: root }), config: testConfig() });
        try {
          const base = registry.url;
          const bytes = randomBlob(2000, 3000);
          const layer = { digest: await pushMonolithic(base, 'race/old', bytes), bytes };
          const config = randomBlob(100, 200);
          const configDigest = await pushMonolithic(base, 'race/old', config);
          const old = await putManifest(base, 'race/old', 'gone', imageManifest({ digest: configDigest, size: config.length }, [{ digest: layer.digest, size: bytes.length }]));
          assert.equal((await fetch(`${base}/v2/race/old/manifests/${old}`, { method: 'DELETE' })).status, 202);
          await age(root);

          const gate = gated(createFilesystemDriver({ rootDirectory: root }), point);
          const collecting: Promise<GcReport> = new GarbageCollector(gate.driver, new Listing(gate.driver)).collect({ grace: 3_600_000, deleteUntagged: false, dryRun: false });
          await gate.atGate;
          // The push runs while the collector is paused; in the 'delete' case it may have to wait for it.
          const pushing = scenario.push(base, layer);
          await new Promise((r) => setTimeout(r, 300));
          gate.release();
          const [result] = await Promise.all([pushing, collecting]);

          assert.ok(result.status < 500, `the push answered ${result.status}`);
          if (result.status === 201) {
            const m = await getBytes(`${base}/v2/${result.repo}/manifests/v1`);
            assert.equal(m.status, 200);
            for (const d of result.blobs) {
              const b = await getBytes(`${base}/v2/${result.repo}/blobs/${d}`);
              assert.equal(b.status, 200, `acknowledged image ${result.repo}:v1 lost ${d}`);
              assert.equal(sha256(b.body), d);
            }
          } else {
            assert.equal((await fetch(`${base}/v2/${result.repo}/manifests/v1`, { method: 'HEAD' })).status, 404, 'a refused push left its tag behind');
          }
          await assertStoreConsistent(root, { collected: true });
        } finally {
          await registry.close();
        }
      });
});
