import assert from 'node:assert/strict';
import type { StorageDriver } from '../../storage-drivers/types';
import { readSweepCandidates } from '../../src/oci/gc-sweep-state';
import { parseDigest } from '../../src/oci/digest';
import { exists } from '../../src/oci/links';
import { paths } from '../../src/oci/paths';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob, sha256 } from '../durability/push-client';

/**
 * The deterministic races between a collection and a push that reuses an old, orphaned layer, for
 * any store: the collector is paused at one point of its sweep while one of three pushes runs.
 */
export type GatePoint = 'announce' | 'delete';
export const GATE_POINTS: readonly GatePoint[] = ['announce', 'delete'];

export interface Layer {
  digest: string;
  bytes: Buffer;
}

/**
 * The collector's driver, paused at one point of the sweep until released: when it announces the
 * sweep ('announce'; a collector that announces nothing pauses at its first delete instead), or at
 * its first delete of blob data ('delete').
 */
export function gated(inner: StorageDriver, point: GatePoint) {
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
    if (point === 'announce' && path === paths.gcSweepState && (JSON.parse(Buffer.from(data).toString()) as { sweeping?: unknown }).sweeping) await pause();
    return inner.putContent(path, data, opts);
  };
  driver.delete = async (path) => {
    if (path.includes('/blobs/')) await pause();
    return inner.delete(path);
  };
  return { driver, atGate, release };
}

/** Pushes an image into race/old and deletes its manifest: its layer is left orphaned (linked, unreferenced). */
export async function orphanedLayer(base: string): Promise<Layer> {
  const bytes = randomBlob(2000, 3000);
  const layer = { digest: await pushMonolithic(base, 'race/old', bytes), bytes };
  const config = randomBlob(100, 200);
  const configDigest = await pushMonolithic(base, 'race/old', config);
  const old = await putManifest(base, 'race/old', 'gone', imageManifest({ digest: configDigest, size: config.length }, [{ digest: layer.digest, size: bytes.length }]));
  assert.equal((await fetch(`${base}/v2/race/old/manifests/${old}`, { method: 'DELETE' })).status, 202);
  return layer;
}

export interface PushResult {
  repo: string;
  status: number;
  blobs: string[];
}

export interface Scenario {
  name: string;
  /** After the gate: makes the orphaned layer part of a new image in `repo`; returns the manifest PUT's status. */
  push(base: string, layer: Layer): Promise<PushResult>;
}

const manifestPut = async (base: string, repo: string, layer: Layer): Promise<PushResult> => {
  const config = randomBlob(100, 200);
  const configDigest = await pushMonolithic(base, repo, config);
  const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layer.digest, size: layer.bytes.length }]);
  const res = await fetch(`${base}/v2/${repo}/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  return { repo, status: res.status, blobs: [configDigest, layer.digest] };
};

export const scenarios: readonly Scenario[] = [
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
      await fetch(`${base}/v2/race/new-mount/blobs/uploads/?mount=${layer.digest}&from=race/old`, { method: 'POST' });
      // A refused mount (202) is an honest answer; the client would upload the layer then.
      return manifestPut(base, 'race/new-mount', layer);
    },
  },
];

/**
 * Runs `push` while the collector waits at its gate (await `atGate` first), then lets the collector go on. Paused before
 * its announcement, the sweep holds nothing back: the push must be acknowledged, and it is then up
 * to the sweep's re-read to find its links. Paused at its first delete, past that re-read, the push
 * must not finish before the sweep does: the writers' fence holds it.
 */
export async function pushDuringPause(
  point: GatePoint,
  gate: ReturnType<typeof gated>,
  push: () => Promise<PushResult>,
  /** Longer than the whole push would take unhindered on this store. */
  holdMs: number,
): Promise<PushResult> {
  const pushing = push();
  if (point === 'announce') {
    const result = await pushing.finally(() => gate.release());
    assert.equal(result.status, 201, 'a push before any announcement was refused');
    return result;
  }
  const early = await Promise.race([pushing.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), holdMs))]);
  gate.release();
  assert.equal(early, false, 'the push finished while the paused sweep could still delete its layer');
  return pushing;
}

/** An acknowledged push pulls completely; a refused one answered honestly (no 5xx) and left no tag. */
export async function assertPushOutcome(base: string, result: PushResult): Promise<void> {
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
}

/** The race is real only if the collector announced the layer among what it may delete. */
export async function assertCandidate(driver: StorageDriver, layer: Layer): Promise<void> {
  const candidates = (await readSweepCandidates(driver))?.blobs ?? [];
  assert.ok(candidates.includes(layer.digest), `the collector did not take ${layer.digest} for garbage: ${candidates.join(', ')}`);
}

/** A driver that, once told a path, holds the write of that path's content until released. */
export function holdingWrites(inner: StorageDriver) {
  let target: string | undefined;
  let reached!: () => void;
  let release!: () => void;
  const atHold = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  const driver: StorageDriver = Object.create(inner) as StorageDriver;
  driver.putContent = async (path, data, opts) => {
    if (path === target) {
      reached();
      await released;
    }
    return inner.putContent(path, data, opts);
  };
  return { driver, hold: (path: string) => (target = path), atHold, release };
}

/**
 * A manifest PUT writes its revision link and its data together. A mark that lists the revision in
 * between finds no data to read; the PUT then completes before the sweep announces itself, so its
 * fresh revision link is all that keeps the orphaned layer it reuses, and the sweep's re-read must
 * read the manifest again rather than remember it as unreadable.
 */
export async function pushAcrossTheMark(
  base: string,
  layer: Layer,
  registry: ReturnType<typeof holdingWrites>,
  collect: () => { gate: ReturnType<typeof gated>; collecting: Promise<unknown> },
): Promise<void> {
  const config = randomBlob(100, 200);
  const configDigest = await pushMonolithic(base, 'race/old', config);
  const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layer.digest, size: layer.bytes.length }]);
  const digest = parseDigest(sha256(manifest));
  registry.hold(paths.blobData(digest));
  assert.equal((await fetch(`${base}/v2/race/old/blobs/${layer.digest}`, { method: 'HEAD' })).status, 200);
  const putting = fetch(`${base}/v2/race/old/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  await registry.atHold;
  while (!(await exists(registry.driver, paths.revisionLink('race/old', digest)))) await new Promise((r) => setTimeout(r, 20));
  const { gate, collecting } = collect();
  await gate.atGate;
  await assertCandidate(gate.driver, layer);
  registry.release();
  const put = await putting;
  gate.release();
  assert.equal(put.status, 201);
  await collecting;
  await assertPushOutcome(base, { repo: 'race/old', status: put.status, blobs: [configDigest, layer.digest] });
}
