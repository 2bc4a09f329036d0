import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAIN_JS, SHORT_QUIET_PERIOD, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob, sha256 } from '../durability/push-client';
import { assertStoreConsistent } from '../helpers/store-check';
import { age } from './age';

const run = promisify(execFile);
const SECRET = 'gc-test-secret-0123456789abcdef';

interface Report {
  dryRun: boolean;
  blobs: Array<{ digest: string; size: number }>;
  bytes: number;
  manifests: string[];
}


async function push(base: string, name: string, tag: string, layers: Buffer[]): Promise<{ digest: string; blobs: string[] }> {
  const config = randomBlob(200, 300);
  const configDigest = await pushMonolithic(base, name, config);
  const layerDigests: string[] = [];
  for (const l of layers) layerDigests.push(await pushMonolithic(base, name, l));
  const manifest = imageManifest({ digest: configDigest, size: config.length }, layers.map((l, i) => ({ digest: layerDigests[i], size: l.length })));
  const digest = await putManifest(base, name, tag, manifest);
  return { digest, blobs: [configDigest, ...layerDigests] };
}

describe('garbage collection (berth gc)', { timeout: 120_000 }, () => {
  let root: string;
  let berth: BerthProcess;
  const gc = async (...args: string[]): Promise<Report> => {
    const { stdout } = await run(process.execPath, [MAIN_JS, 'gc', '--json', ...args], {
      env: { ...process.env, ...SHORT_QUIET_PERIOD, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET },
      timeout: 60_000,
    });
    return JSON.parse(stdout) as Report;
  };
  const present = async (name: string, digest: string) => (await getBytes(`${berth.url}/v2/${name}/blobs/${digest}`)).status === 200;
  const dataFile = (digest: string) => {
    const hex = digest.slice('sha256:'.length);
    return join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-gc-'));
    berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET } });
  });
  after(async () => {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('reclaims what a deleted image alone used, reports the bytes that disappear, and keeps everything reachable', async () => {
    const shared = randomBlob(4000, 5000);
    const a = await push(berth.url, 'gc/app', 'a', [shared, randomBlob(30_000, 40_000)]);
    const b = await push(berth.url, 'gc/app', 'b', [shared, randomBlob(30_000, 40_000)]);
    const other = await push(berth.url, 'gc/other', 'x', [randomBlob(1000, 2000)]);
    assert.equal((await fetch(`${berth.url}/v2/gc/app/manifests/${a.digest}`, { method: 'DELETE' })).status, 202);
    await age(root);

    const expected = [a.digest, a.blobs[0], a.blobs[2]].sort();
    const dry = await gc('--dry-run');
    assert.equal(dry.dryRun, true);
    assert.deepEqual(dry.blobs.map((x) => x.digest).sort(), expected);
    for (const d of expected) await stat(dataFile(d)); // a dry run deletes nothing

    const sizes = new Map<string, number>();
    for (const d of expected) sizes.set(d, (await stat(dataFile(d))).size);
    const real = await gc();
    assert.deepEqual(real.blobs.map((x) => x.digest).sort(), expected);
    assert.equal(real.bytes, [...sizes.values()].reduce((s, n) => s + n, 0));
    for (const d of expected) await assert.rejects(stat(dataFile(d)), /ENOENT/);

    for (const [name, image, tag] of [['gc/app', b, 'b'], ['gc/other', other, 'x']] as const) {
      const m = await getBytes(`${berth.url}/v2/${name}/manifests/${tag}`);
      assert.equal(m.status, 200);
      assert.equal(sha256(m.body), image.digest);
      for (const d of image.blobs) assert.ok(await present(name, d), `${name} lost ${d}`);
    }
    assert.ok(await present('gc/app', b.blobs[1]), 'the shared layer must survive');
    assert.deepEqual((await gc()).blobs, [], 'a second run finds nothing');
  });

  it('never collects a blob younger than the grace period; --grace 0s does', async () => {
    const fresh = randomBlob(1000, 2000);
    const digest = await pushMonolithic(berth.url, 'gc/fresh', fresh);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(!(await gc()).blobs.some((x) => x.digest === digest), 'collected inside the default 1h grace');
    assert.ok(await present('gc/fresh', digest));
    assert.ok((await gc('--grace', '0s')).blobs.some((x) => x.digest === digest));
    assert.ok(!(await present('gc/fresh', digest)));
  });

  it('removes the sha512 alias of a blob it collects, so an anonymous mount no longer finds it', async () => {
    const blob = randomBlob(1000, 2000);
    const sha512 = `sha512:${createHash('sha512').update(blob).digest('hex')}`;
    const res = await fetch(`${berth.url}/v2/gc/alias/blobs/uploads/?digest=${sha512}`, { method: 'POST', body: blob });
    assert.equal(res.status, 201);
    const hex = sha512.slice('sha512:'.length);
    const alias = join(root, 'berth/blob-aliases/sha512', hex.slice(0, 2), hex);
    assert.equal((await readFile(alias, 'utf8')).trim(), sha256(blob));
    assert.equal((await fetch(`${berth.url}/v2/gc/alias/blobs/${sha512}`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${berth.url}/v2/gc/alias/blobs/${sha256(blob)}`, { method: 'DELETE' })).status, 202);
    await age(root);
    const report = await gc();
    assert.ok(report.blobs.some((x) => x.digest === sha256(blob)));
    await assert.rejects(stat(alias), 'the alias outlived its data');
    const mount = await fetch(`${berth.url}/v2/gc/alias2/blobs/uploads/?mount=${sha512}`, { method: 'POST' });
    assert.equal(mount.status, 202);
  });

  it('--delete-untagged removes manifests no tag reaches, but keeps referrers of tagged ones and index children', async () => {
    const untagged = await push(berth.url, 'gc/untagged', 'tmp', [randomBlob(1000, 2000)]);
    const kept = await push(berth.url, 'gc/untagged', 'keep', [randomBlob(1000, 2000)]);
    // Deleting the tag leaves the manifest revision behind, untagged.
    assert.equal((await fetch(`${berth.url}/v2/gc/untagged/manifests/tmp`, { method: 'DELETE' })).status, 202);
    const sig = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/x-signature',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await pushMonolithic(berth.url, 'gc/untagged', Buffer.from('{}')), size: 2 },
      layers: [],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: kept.digest, size: 1 },
    }));
    const sigDigest = await putManifest(berth.url, 'gc/untagged', sha256(sig), sig);
    await age(root);

    const report = await gc('--delete-untagged');
    assert.deepEqual(report.manifests, [`gc/untagged@${untagged.digest}`]);
    assert.equal((await getBytes(`${berth.url}/v2/gc/untagged/manifests/${untagged.digest}`)).status, 404);
    for (const d of untagged.blobs.slice(1)) assert.ok(!(await present('gc/untagged', d)));
    assert.equal((await getBytes(`${berth.url}/v2/gc/untagged/manifests/${sigDigest}`)).status, 200, 'the referrer of a tagged image stays');
    for (const d of kept.blobs) assert.ok(await present('gc/untagged', d));
  });

  it('pushes reusing old layers during collections never end with an acknowledged image whose blob is gone', async () => {
    // Old layers that new pushes reuse in each of the three ways a client can: the case a naive
    // online GC breaks.
    const layers = [randomBlob(2000, 3000), randomBlob(2000, 3000)];
    const base = await push(berth.url, 'gc/base', 'old', layers);
    assert.equal((await fetch(`${berth.url}/v2/gc/base/manifests/${base.digest}`, { method: 'DELETE' })).status, 202);
    await age(root);
    const acked: Array<{ name: string; tag: string; digest: string; blobs: string[] }> = [];
    let stop = false;
    const reuse = async (mode: number, name: string, digest: string, bytes: Buffer) => {
      if (mode === 0) await fetch(`${berth.url}/v2/${name}/blobs/uploads/?mount=${digest}&from=gc/base`, { method: 'POST' });
      else if (mode === 1) await pushMonolithic(berth.url, name, bytes);
      // mode 2: the client HEADs the blob in the repository that holds it, sees 200, uploads nothing
    };
    const pusher = async (id: number) => {
      for (let i = 0; !stop; i++) {
        const mode = (id + i) % 3;
        // New repositories each time (created after the collection listed the catalog), except for
        // the HEAD case, which reuses the layer where it already is.
        const name = mode === 2 ? 'gc/base' : `gc/live${id}-${i}`;
        try {
          for (const [j, d] of base.blobs.slice(1).entries()) await reuse(mode, name, d, layers[j]);
          const config = randomBlob(100, 200);
          const configDigest = await pushMonolithic(berth.url, name, config);
          const refs = base.blobs.slice(1).map((d, j) => ({ digest: d, size: layers[j].length }));
          const tag = `t${id}-${i}`;
          const digest = await putManifest(berth.url, name, tag, imageManifest({ digest: configDigest, size: config.length }, refs));
          acked.push({ name, tag, digest, blobs: [configDigest, ...refs.map((l) => l.digest)] });
        } catch {
          // a push refused because GC took a blob first is not acknowledged: the client would retry
        }
      }
    };
    const pushing = Promise.all([0, 1, 2].map(pusher));
    for (let round = 0; round < 6; round++) await gc('--grace', round % 2 ? '0s' : '2s');
    stop = true;
    await pushing;
    assert.ok(acked.length > 0, 'nothing was pushed during the collections');
    for (const image of acked) {
      assert.equal((await getBytes(`${berth.url}/v2/${image.name}/manifests/${image.tag}`)).status, 200);
      for (const d of image.blobs) assert.ok(await present(image.name, d), `${image.name}:${image.tag} lost ${d}`);
    }
    await assertStoreConsistent(root, { collected: true });
  });

  it('an old blob that a push in progress just mounted survives until its manifest arrives', async () => {
    const old = await push(berth.url, 'gc/orphan', 'o', [randomBlob(2000, 3000)]);
    assert.equal((await fetch(`${berth.url}/v2/gc/orphan/manifests/${old.digest}`, { method: 'DELETE' })).status, 202);
    await age(root);
    // The push mounts the unreferenced layer, then the collector runs before the manifest is sent.
    const layer = old.blobs[1];
    assert.equal((await fetch(`${berth.url}/v2/gc/adopter/blobs/uploads/?mount=${layer}&from=gc/orphan`, { method: 'POST' })).status, 201);
    const config = randomBlob(100, 200);
    const configDigest = await pushMonolithic(berth.url, 'gc/adopter', config);
    const report = await gc('--grace', '10s');
    assert.ok(!report.blobs.some((x) => x.digest === layer), 'the freshly mounted layer was collected');
    assert.ok(report.blobs.some((x) => x.digest === old.blobs[0]), 'the orphaned config, linked long ago, is collected');
    const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layer, size: 0 }]);
    await putManifest(berth.url, 'gc/adopter', 'v1', manifest);
    assert.ok(await present('gc/adopter', layer));
  });

  it('of two collections started at once, each runs alone or is refused as locked', async () => {
    // Whether they overlap depends on timing (test/gc/gc-lease.test.ts makes them): a refusal must
    // name the lease, never surface the driver's PathExistsError.
    const results = await Promise.allSettled([gc('--dry-run'), gc('--dry-run')]);
    assert.ok(results.some((r) => r.status === 'fulfilled'));
    for (const r of results)
      if (r.status === 'rejected') assert.match(String((r.reason as { stderr?: string }).stderr), /^another garbage collection (is running|started at the same time)/m);
  });
});

describe('garbage collection on a schedule inside the server', { timeout: 60_000 }, () => {
  it('collects a deleted image without a command, and logs what it freed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'berth-gc-sched-'));
    const env = {
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
      REGISTRY_HTTP_SECRET: SECRET,
      REGISTRY_STORAGE_MAINTENANCE_GC_ENABLED: 'true',
      REGISTRY_STORAGE_MAINTENANCE_GC_INTERVAL: '1s',
      REGISTRY_STORAGE_MAINTENANCE_GC_GRACE: '3s',
    };
    const berth = await startBerthProcess({ env });
    try {
      const image = await push(berth.url, 'gc/sched', 'v1', [randomBlob(5000, 6000)]);
      assert.equal((await fetch(`${berth.url}/v2/gc/sched/manifests/${image.digest}`, { method: 'DELETE' })).status, 202);
      let gone = false;
      for (let i = 0; i < 40 && !gone; i++) {
        await new Promise((r) => setTimeout(r, 250));
        gone = (await getBytes(`${berth.url}/v2/gc/sched/blobs/${image.blobs[1]}`)).status === 404;
      }
      // The layer link stays (as Distribution's collector leaves it); the data behind it is what goes.
      assert.ok(gone, 'the scheduled collection did not reclaim the deleted image');
      // The run logs once it has deleted everything, after the blob above answers 404; and the
      // image's blobs may pass the grace period in two runs rather than one.
      const freed = () =>
        berth
          .logs()
          .split('\n')
          .filter((l) => l.includes('garbage collection finished'))
          .map((l) => JSON.parse(l) as { blobs: number; bytes: number })
          .reduce((sum, r) => ({ blobs: sum.blobs + r.blobs, bytes: sum.bytes + r.bytes }), { blobs: 0, bytes: 0 });
      for (let i = 0; i < 40 && freed().blobs < 3; i++) await new Promise((r) => setTimeout(r, 250));
      assert.ok(freed().blobs >= 3 && freed().bytes > 5000, berth.logs().slice(-2000));
    } finally {
      await berth.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
