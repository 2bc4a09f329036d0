import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MT, descriptor, getRaw, ociManifest, pushBlob, pushImage, pushManifest, unknownDigest, type Image } from '../api/helpers';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { runBerth } from '../helpers/berth-process';
import { EventReceiver, type ReceivedEvent } from '../helpers/event-receiver';
import { until } from '../mirror/fetch-fixtures';
import { gated } from './race-scenarios';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { createStorageDriver } from '../../src/storage';
import { parseDigest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { exists } from '../../src/oci/links';
import type { Config } from '../../src/config/schema';
import type { StorageDriver } from '../../storage-drivers/types';

/*
 * Eviction of mirrored content by the garbage collector (issue 14): by age since the last pull
 * (`ttl`) and by total size (`maxsize`, least recently pulled first), in the scheduled collection
 * and in `berth gc`, never touching pushed repositories.
 */

const PREFIX = 'up.test';
const ACCEPT = [MT.ociManifest, MT.ociIndex].join(', ');

let upstream: TestRegistry;
let work: string;
let n = 0;

before(async () => {
  upstream = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'berth-mirror-evict-'));
});
after(async () => {
  await upstream?.close();
  await rm(work, { recursive: true, force: true });
});

interface Mirror {
  /** Where mirrored names start: `up.test/`, or nothing with `proxy`. */
  base: string;
  berth: TestRegistry;
  driver: StorageDriver;
  config: Config;
  metrics: Metrics;
  configFile: string;
}

async function startMirror(
  /** The `mirrors` entry's keys past prefix and url, or `proxy`'s past remoteurl with `proxy: true`. */
  mirror: Record<string, unknown>,
  gc: Record<string, unknown> = {},
  wrap: (d: StorageDriver) => StorageDriver = (d) => d,
  extra: Record<string, unknown> = {},
): Promise<Mirror> {
  const dir = join(work, `m${n++}`);
  const { proxy, ...keys } = mirror;
  const input = {
    ...extra,
    storage: { filesystem: { rootdirectory: join(dir, 'store') }, maintenance: { gc: { grace: '0s', ...gc } } },
    ...(proxy ? { proxy: { remoteurl: upstream.url, ...keys } } : { mirrors: [{ prefix: PREFIX, url: upstream.url, tagttl: '1h', ...keys }] }),
    mirror: { spooldirectory: join(dir, 'spool') },
  };
  const config = testConfig(input);
  const configFile = join(work, `m${n}.json`);
  await writeFile(configFile, JSON.stringify(input));
  const driver = await createStorageDriver(config);
  const metrics = createMetrics({ defaultMetrics: false });
  const berth = await startRegistry({ config, driver: wrap(driver), deps: { metrics, mirrorPullFlushMs: 100 } });
  return { base: proxy ? '' : `${PREFIX}/`, berth, driver, config, metrics, configFile };
}

/** Pulls an image through the mirror as a client does: the manifest by tag, then its blobs. */
async function pull(m: Mirror, repo: string, ref: string, image: Image): Promise<void> {
  const res = await getRaw(m.berth.r(), `/v2/${m.base}${repo}/manifests/${ref}`).set('Accept', ACCEPT);
  assert.equal(res.status, 200, res.text);
  for (const b of [image.config, image.layer]) assert.equal((await getRaw(m.berth.r(), `/v2/${m.base}${repo}/blobs/${b.digest}`)).status, 200);
}

const blobStored = (m: Mirror, digest: string) => exists(m.driver, paths.blobData(parseDigest(digest)));
const revisionLinked = (m: Mirror, repo: string, digest: string) => exists(m.driver, paths.revisionLink(repo, parseDigest(digest)));
const metric = async (m: Mirror, name: string) => {
  const line = (await m.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pushed repository on the mirror holding a manifest that references `layer` too. */
async function pushLocal(m: Mirror, repo: string, image: Image): Promise<void> {
  await pushBlob(m.berth.r(), repo, image.config);
  await pushBlob(m.berth.r(), repo, image.layer);
  const manifest = ociManifest({ config: descriptor(image.config, MT.ociConfig), layers: [descriptor(image.layer, MT.ociLayer)] });
  assert.equal((await pushManifest(m.berth.r(), repo, 'v1', manifest)).status, 201);
}

describe('mirror eviction', { timeout: 120_000 }, () => {
  test('the scheduled collection evicts what was not pulled within ttl, and its blobs; a pushed copy of a blob survives', async () => {
    const shared = await pushImage(upstream.r(), 'evict/shared', 'v1');
    const alone = await pushImage(upstream.r(), 'evict/alone', 'v1');
    const receiver = new EventReceiver();
    await receiver.start();
    const m = await startMirror({ ttl: '1s' }, { enabled: true, interval: '1s' }, undefined, {
      notifications: { endpoints: [{ name: 'receiver', url: receiver.url, backoff: '20ms' }] },
    });
    try {
      await pull(m, 'evict/shared', 'v1', shared);
      await pull(m, 'evict/alone', 'v1', alone);
      // Pushed under a name that merely starts like the prefix: not the mirror's.
      await pushLocal(m, `${PREFIX}x/app`, shared);
      await pushLocal(m, 'local/app', shared);
      m.berth.app.startBackgroundTasks();
      await until(async () => (await metric(m, 'berth_gc_evicted_manifests_total')) >= 2, 20_000);
      assert.equal(await revisionLinked(m, `${PREFIX}/evict/alone`, alone.manifest.digest), false);
      // A run that evicts a manifest after its mark leaves that manifest's blobs to the next run
      // (under load, the two evictions can fall in two runs): wait for them, bounded.
      await until(async () => !(await blobStored(m, alone.config.digest)) && !(await blobStored(m, alone.manifest.digest)), 20_000);
      assert.equal(await revisionLinked(m, `${PREFIX}/evict/shared`, shared.manifest.digest), false);
      // Referenced by the pushed repositories: kept.
      assert.equal(await blobStored(m, shared.layer.digest), true);
      assert.equal(await blobStored(m, shared.config.digest), true);
      for (const repo of ['local/app', `${PREFIX}x/app`]) assert.equal((await m.berth.r().get(`/v2/${repo}/manifests/v1`).set('Accept', ACCEPT)).status, 200);
      assert.equal(await metric(m, 'berth_gc_evicted_manifests_total'), 2);
      assert.ok((await metric(m, 'berth_gc_evicted_bytes_total')) > 0);
      // Each evicted manifest is a gc.delete event, as any manifest the collector deletes.
      const deleted = (events: ReceivedEvent[]) => events.filter((e) => e.action === 'gc.delete' && e.target.repository !== undefined).map((e) => `${e.target.repository}@${e.target.digest}`);
      await receiver.waitFor((events) => deleted(events).length >= 2, 20_000);
      assert.deepEqual(new Set(deleted(receiver.events)), new Set([`${PREFIX}/evict/shared@${shared.manifest.digest}`, `${PREFIX}/evict/alone@${alone.manifest.digest}`]));
      // Evicted content comes back from the upstream.
      await pull(m, 'evict/alone', 'v1', alone);
    } finally {
      await m.berth.close();
      await receiver.stop();
    }
  });

  test('with maxsize, the least recently pulled images go first and the most recent stays', async () => {
    const images: Image[] = [];
    for (let i = 0; i < 3; i++) images.push(await pushImage(upstream.r(), `lru/i${i}`, 'v1'));
    // Each image is a little over 512 bytes of layer plus config and manifest: room for one.
    const m = await startMirror({ ttl: '0', maxsize: 1200 });
    try {
      for (let i = 0; i < 3; i++) {
        await pull(m, `lru/i${i}`, 'v1', images[i]);
        await sleep(300);
      }
      await m.berth.close();
      // A revision linked within the collector's clock slack (2 s) counts as written during it: kept.
      await sleep(2100);
      const r = await runBerth(['gc', '--json', '--config', m.configFile, '--grace', '0s'], { cwd: work, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { evicted: string[] };
      assert.deepEqual(report.evicted.sort(), [0, 1].map((i) => `${PREFIX}/lru/i${i}@${images[i].manifest.digest}`).sort());
      assert.equal(await blobStored(m, images[2].layer.digest), true);
      assert.equal(await revisionLinked(m, `${PREFIX}/lru/i2`, images[2].manifest.digest), true);
      for (const i of [0, 1]) assert.equal(await blobStored(m, images[i].layer.digest), false);
    } finally {
      await m.berth.close().catch(() => undefined);
    }
  });

  test('berth gc evicts by ttl offline; --dry-run reports the same and deletes nothing', async () => {
    const image = await pushImage(upstream.r(), 'offline/app', 'v1');
    const pushed = await pushImage(upstream.r(), 'offline/pushed', 'v1');
    const m = await startMirror({ ttl: '1s' });
    try {
      await pull(m, 'offline/app', 'v1', image);
      await pushLocal(m, 'offline/app', pushed);
      await m.berth.close();
      // The record of a manifest no longer stored (deleted untagged, say) goes with a collection.
      const orphan = paths.mirrorPull(`${PREFIX}/offline/app`, parseDigest(unknownDigest()));
      await m.driver.putContent(orphan, new Uint8Array(0));
      const record = paths.mirrorPull(`${PREFIX}/offline/app`, parseDigest(image.manifest.digest));
      assert.equal(await exists(m.driver, record), true, 'the pull was recorded');
      await sleep(1500);
      const dry = await runBerth(['gc', '--json', '--config', m.configFile, '--grace', '0s', '--dry-run'], { cwd: work, timeoutMs: 60_000 });
      assert.equal(dry.code, 0, dry.stderr);
      const dryReport = JSON.parse(dry.stdout) as { evicted: string[]; blobs: Array<{ digest: string }> };
      assert.deepEqual(dryReport.evicted, [`${PREFIX}/offline/app@${image.manifest.digest}`]);
      assert.ok(dryReport.blobs.some((b) => b.digest === image.layer.digest));
      assert.equal(await blobStored(m, image.layer.digest), true);
      assert.equal(await revisionLinked(m, `${PREFIX}/offline/app`, image.manifest.digest), true);
      assert.equal(await exists(m.driver, orphan), true);

      const r = await runBerth(['gc', '--json', '--config', m.configFile, '--grace', '0s'], { cwd: work, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { evicted: string[] }).evicted, dryReport.evicted);
      assert.equal(await blobStored(m, image.layer.digest), false);
      assert.equal(await revisionLinked(m, `${PREFIX}/offline/app`, image.manifest.digest), false);
      assert.equal(await exists(m.driver, record), false);
      assert.equal(await exists(m.driver, orphan), false);
      // The pushed repository named like the upstream's: untouched.
      assert.equal(await blobStored(m, pushed.layer.digest), true);
      assert.equal(await revisionLinked(m, 'offline/app', pushed.manifest.digest), true);
    } finally {
      await m.berth.close().catch(() => undefined);
    }
  });

  test('with proxy, every repository is the mirror\'s: berth gc evicts by ttl', async () => {
    const image = await pushImage(upstream.r(), 'proxied/app', 'v1');
    const m = await startMirror({ proxy: true, ttl: '1s' });
    try {
      await pull(m, 'proxied/app', 'v1', image);
      await m.berth.close();
      await sleep(2100);
      const r = await runBerth(['gc', '--json', '--config', m.configFile, '--grace', '0s'], { cwd: work, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { evicted: string[] }).evicted, [`proxied/app@${image.manifest.digest}`]);
      assert.equal(await blobStored(m, image.layer.digest), false);
    } finally {
      await m.berth.close().catch(() => undefined);
    }
  });

  test('an image pulled while the collection that would evict it runs keeps its blobs', async () => {
    const image = await pushImage(upstream.r(), 'race/app', 'v1');
    let gate!: ReturnType<typeof gated>;
    const m = await startMirror({ ttl: '2s' }, { enabled: true, interval: '1s' }, (d) => (gate = gated(d, 'announce')).driver);
    try {
      await pull(m, 'race/app', 'v1', image);
      await sleep(2500);
      m.berth.app.startBackgroundTasks();
      await gate.atGate;
      // The collection decided to evict it; a client pulls it now.
      await pull(m, 'race/app', 'v1', image);
      await sleep(300);
      gate.release();
      await until(async () => (await metric(m, 'berth_gc_runs_total')) >= 1, 20_000);
      assert.equal(await revisionLinked(m, `${PREFIX}/race/app`, image.manifest.digest), true);
      for (const b of [image.config, image.layer, image.manifest]) assert.equal(await blobStored(m, b.digest), true, b.digest);
      assert.equal(await metric(m, 'berth_gc_evicted_manifests_total'), 0);
    } finally {
      await m.berth.close();
    }
  });
});
