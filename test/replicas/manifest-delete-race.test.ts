import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertStoreConsistent } from '../helpers/store-check';
import { describeOnStores, loggedErrors, withClusterLogs } from './cluster';
import { imageManifest, pushMonolithic, putManifest, randomBlob, repoName } from './oci-http';
import { s3Store } from './stores';

const ROUNDS = 20;
/** RGW fails a key in about one race of three: several make the test fail reliably without retries. */
const RACES = 6;

async function deleteManifest(base: string, name: string, digest: string): Promise<number> {
  const res = await fetch(`${base}/v2/${name}/manifests/${digest}`, { method: 'DELETE', signal: AbortSignal.timeout(60_000) });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Deleting a manifest by digest while its tag is pushed again and again: each DELETE either finds
 * the manifest (202) or not (404), never fails half-way (RGW fails single keys of a DeleteObjects
 * batch under such writes, which answered 500), and the store is consistent after the race.
 */
describeOnStores('manifest DELETE racing re-pushes of its tag', { timeout: 300_000, kinds: [s3Store(false)] }, (cluster) => {
  test(`${ROUNDS} re-pushes of one tag and ${ROUNDS} DELETEs by digest answer 201, and 202 or 404 (${RACES} races)`, () =>
    withClusterLogs(cluster(), async () => {
      const { proxy } = cluster();
      const name = repoName('race');
      const config = randomBlob(300);
      const layer = randomBlob(2000);
      for (const blob of [config, layer]) await pushMonolithic(proxy.url, name, blob);
      const manifest = imageManifest(config, [layer]);

      const deleted: number[] = [];
      for (let race = 0; race < RACES; race++) {
        const pushes = Array.from({ length: ROUNDS }, () => putManifest(proxy.url, name, 'latest', manifest));
        const deletes = Array.from({ length: ROUNDS }, () => deleteManifest(proxy.url, name, manifest.digest));
        const [pushed, statuses] = await Promise.all([Promise.all(pushes), Promise.all(deletes)]);
        assert.deepEqual(new Set(pushed), new Set([manifest.digest]));
        deleted.push(...statuses);
      }
      const unexpected = deleted.filter((s) => s !== 202 && s !== 404);
      assert.deepEqual(unexpected, [], `DELETE statuses: ${deleted.join(' ')}`);
      assert.deepEqual(loggedErrors(cluster()), []);
      await assertStoreConsistent(cluster().driver());
    }));
});
