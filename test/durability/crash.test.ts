import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerthProcess } from '../helpers/berth-process';
import { assertStoreConsistent } from '../helpers/store-check';
import { getBytes, imageManifest, pushChunked, pushMonolithic, putManifest, randomBlob, sha256 } from './push-client';

const SECRET = 'durability-test-secret-0123456789';
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-crash-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function start() {
  return startBerthProcess({
    env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET, REGISTRY_LOG_ACCESSLOG_DISABLED: 'true' },
  });
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return 'sha256:' + hash.digest('hex');
}

/** Every blob file in the store must hold exactly the bytes its path names: nothing half-written. */
async function assertNoPartialBlobs(): Promise<number> {
  const dir = join(root, 'docker/registry/v2/blobs/sha256');
  let count = 0;
  for (const prefix of await readdir(dir).catch(() => [] as string[])) {
    // A new prefix directory is made whole under a temp name, then renamed: one a kill left under its
    // temp name holds what was being stored there, half-written, and is no blob either.
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const hex of await readdir(join(dir, prefix))) {
      const data = join(dir, prefix, hex, 'data');
      // A temp directory left by a crash is no blob: the driver never lists it (check reports it).
      if (!/^[0-9a-f]{64}$/.test(hex)) continue;
      const entries = await readdir(join(dir, prefix, hex));
      if (!entries.includes('data')) continue;
      assert.equal(await fileDigest(data), `sha256:${hex}`, `blob ${hex} holds other bytes`);
      count++;
    }
  }
  return count;
}

interface Acked {
  blobs: Map<string, Buffer>;
  tags: Map<string, string>;
}

/** Pushes images from several clients until the server dies; records what was acknowledged. */
async function pushUntilKilled(base: string, acked: Acked, cycle: number, stop: { dead: boolean }): Promise<void> {
  const client = async (id: number) => {
    for (let i = 0; !stop.dead; i++) {
      try {
        const layer = randomBlob(1024, 3 * 1024 * 1024);
        const config = randomBlob(100, 500);
        const layerDigest = await (i % 2 ? pushChunked : pushMonolithic)(base, `crash/c${id}`, layer);
        acked.blobs.set(layerDigest, layer);
        const configDigest = await pushMonolithic(base, `crash/c${id}`, config);
        acked.blobs.set(configDigest, config);
        const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layerDigest, size: layer.length }]);
        const tag = `k${cycle}-${i}`;
        const digest = await putManifest(base, `crash/c${id}`, tag, manifest);
        acked.tags.set(`crash/c${id}:${tag}`, digest);
      } catch {
        return; // the server was killed under us
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(client));
}

test('SIGKILL at any point leaves nothing half-visible and keeps everything acknowledged', { timeout: 180_000 }, async () => {
  const acked: Acked = { blobs: new Map(), tags: new Map() };
  for (let cycle = 0; cycle < 4; cycle++) {
    const berth = await start();
    const stop = { dead: false };
    const pushing = pushUntilKilled(berth.url, acked, cycle, stop);
    await new Promise((r) => setTimeout(r, 400 + Math.random() * 1200));
    stop.dead = true;
    berth.proc.kill('SIGKILL');
    await berth.stop();
    await pushing;
  }
  assert.ok(acked.tags.size > 0, 'the test pushed nothing before the kills');
  const berth = await start();
  try {
    for (const [digest, bytes] of acked.blobs) {
      const found = await Promise.all([0, 1, 2, 3].map((c) => getBytes(`${berth.url}/v2/crash/c${c}/blobs/${digest}`)));
      const hit = found.find((r) => r.status === 200);
      assert.ok(hit, `acknowledged blob ${digest} is gone`);
      assert.equal(sha256(hit.body), sha256(bytes));
    }
    for (const [ref, digest] of acked.tags) {
      const [name, tag] = ref.split(':');
      const res = await getBytes(`${berth.url}/v2/${name}/manifests/${tag}`);
      assert.equal(res.status, 200, `acknowledged tag ${ref} is gone`);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.equal(sha256(res.body), digest);
    }
    assert.ok((await assertNoPartialBlobs()) >= acked.blobs.size);
    await assertStoreConsistent(root, { crashed: true });
  } finally {
    await berth.stop();
  }
});

test('a client that disconnects mid-upload leaves no blob visible; concurrent pushes of one blob all succeed', { timeout: 60_000 }, async () => {
  const berth = await start();
  try {
    const blob = randomBlob(8 << 20, (8 << 20) + 1);
    const digest = sha256(blob);
    const controller = new AbortController();
    const body = new ReadableStream({
      start(c) {
        c.enqueue(blob.subarray(0, 1 << 20));
        setTimeout(() => controller.abort(), 200);
      },
    });
    await fetch(`${berth.url}/v2/cut/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body,
      signal: controller.signal,
      headers: { 'Content-Type': 'application/octet-stream' },
      duplex: 'half',
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${berth.url}/v2/cut/blobs/${digest}`, { method: 'HEAD' })).status, 404);

    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? pushChunked : pushMonolithic)(berth.url, `same/r${i % 3}`, blob)));
    assert.deepEqual(new Set(results), new Set([digest]));
    for (let r = 0; r < 3; r++) {
      const got = await getBytes(`${berth.url}/v2/same/r${r}/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.equal(sha256(got.body), digest);
    }
    await assertNoPartialBlobs();
  } finally {
    await berth.stop();
  }
});

test('SIGKILL during concurrent tag pushes leaves no tag that is listed but does not resolve', { timeout: 120_000 }, async () => {
  let berth = await start();
  const config = randomBlob(100, 200);
  const layer = randomBlob(1000, 2000);
  const configDigest = await pushMonolithic(berth.url, 'phantom/r', config);
  const layerDigest = await pushMonolithic(berth.url, 'phantom/r', layer);
  const manifest = (i: number) =>
    imageManifest({ digest: configDigest, size: config.length }, [{ digest: layerDigest, size: layer.length }], { 'org.example.n': String(i) });
  try {
    for (let cycle = 0; cycle < 6; cycle++) {
      // New tags (new directories) and new manifests (new revision directories), 40 at once.
      const pushes = Array.from({ length: 40 }, (_, i) => putManifest(berth.url, 'phantom/r', `c${cycle}-${i}`, manifest(cycle * 100 + i)).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 40));
      berth.proc.kill('SIGKILL');
      await berth.stop();
      await Promise.all(pushes);
      berth = await start();
    }
    const list = (await (await fetch(`${berth.url}/v2/phantom/r/tags/list`)).json()) as { tags: string[] };
    for (const tag of list.tags) assert.equal((await fetch(`${berth.url}/v2/phantom/r/manifests/${tag}`, { method: 'HEAD' })).status, 200, `tag ${tag} is listed but does not resolve`);
    await assertStoreConsistent(root, { crashed: true });
  } finally {
    await berth.stop();
  }
});
