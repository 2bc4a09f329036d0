import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GarbageCollector, type GcOptions } from '../../src/oci/gc';
import { Listing } from '../../src/oci/listing';
import { loadConfig } from '../../src/config/load';
import { createStorageDriver } from '../../src/storage';
import { runBerth } from '../helpers/berth-process';
import { assertStoreConsistent } from '../helpers/store-check';
import { ReuseClients } from '../gc/reuse-clients';
import { describeOnStores, withClusterLogs } from './cluster';

const PUSH_MS = 60_000;
const CLIENTS = 6;

interface Collection {
  how: string;
  blobs: number;
  rescued: number;
}

/**
 * Collections, one after another, alternating `berth gc` processes and in-process collections with
 * grace 2 s and 0 s (one of them also deleting untagged manifests), while `stop()` is false.
 */
async function collectRepeatedly(env: Record<string, string>, stop: () => boolean): Promise<Collection[]> {
  const driver = await createStorageDriver(await loadConfig({ env }));
  const collector = new GarbageCollector(driver, new Listing(driver));
  const inProcess = (opts: Omit<GcOptions, 'dryRun'>) => collector.collect({ ...opts, dryRun: false });
  const runs: Array<{ how: string; run: () => Promise<{ blobs: unknown[]; rescued: number }> }> = [
    { how: 'berth gc --grace 2s', run: () => cli(env, ['--grace', '2s']) },
    { how: 'collect grace 0', run: () => inProcess({ grace: 0, deleteUntagged: false }) },
    { how: 'berth gc --grace 0s', run: () => cli(env, ['--grace', '0s']) },
    { how: 'collect grace 2 s, untagged', run: () => inProcess({ grace: 2_000, deleteUntagged: true }) },
  ];
  const done: Collection[] = [];
  for (let i = 0; !stop(); i++) {
    const { how, run } = runs[i % runs.length];
    const report = await run();
    done.push({ how, blobs: report.blobs.length, rescued: report.rescued });
  }
  return done;
}

async function cli(env: Record<string, string>, args: string[]): Promise<{ blobs: unknown[]; rescued: number }> {
  const res = await runBerth(['gc', '--json', ...args], { env, timeoutMs: 300_000 });
  assert.equal(res.code, 0, `berth gc ${args.join(' ')} failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as { blobs: unknown[]; rescued: number };
}

describeOnStores('garbage collection racing pushes through two replicas', { timeout: 600_000 }, (cluster) => {
  test('every image a replica acknowledged while collections ran pulls completely, and the store is consistent', () =>
    withClusterLogs(cluster(), async () => {
      const { proxy, env } = cluster();
      const clients = new ReuseClients(proxy.url);
      await clients.seed(12);
      // The seeded layers are past the 2 s grace before the first collection.
      await new Promise((r) => setTimeout(r, 2_500));
      const deadline = Date.now() + PUSH_MS;
      let pushing = true;
      const [collections] = await Promise.all([
        collectRepeatedly(env, () => !pushing),
        clients.run(CLIENTS, () => Date.now() > deadline).finally(() => (pushing = false)),
      ]);
      const deleted = collections.reduce((n, c) => n + c.blobs, 0);
      console.log(JSON.stringify({ store: cluster().store, collections, stats: clients.stats, acknowledged: clients.acknowledged.length }));

      assert.deepEqual(await clients.broken(), [], 'acknowledged images that no longer pull');
      const driver = await createStorageDriver(await loadConfig({ env }));
      await assertStoreConsistent(driver, { collected: true, crashed: true });
      // The race was run: collections deleted orphans while clients kept reusing them.
      assert.ok(collections.length >= 4, `only ${collections.length} collections ran`);
      assert.ok(deleted > 0, 'no collection deleted anything');
      assert.ok(clients.stats.collectedFirst > 0, 'no client ever found a layer collected');
    }));
});
