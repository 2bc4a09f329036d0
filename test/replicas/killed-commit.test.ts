import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { StorageDriver } from '../../storage-drivers/types';
import { fetchBlobDigest } from '../helpers/registry-client';
import { assertStoreConsistent } from '../helpers/store-check';
import { describeOnStores, withClusterLogs } from './cluster';
import { at, finishUpload, patchChunk, randomBlob, repoName, startUpload, uploadStatus } from './oci-http';
import { s3Store } from './stores';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
const CHUNK = 16 * MiB;
/** A cutoff after everything: every leftover there is counts as old enough. */
const FUTURE = () => new Date(Date.now() + 3_600_000);

/** The driver's leftovers (dry run) whose key is `path`, as `path#uploadId`. */
async function leftoversAt(driver: StorageDriver, path: string): Promise<string[]> {
  return (await driver.purgeLeftovers(FUTURE(), { dryRun: true })).map((l) => l.path).filter((p) => p.startsWith(`${path}#`));
}

/**
 * A replica killed while its closing PUT moves a large upload into blobs/: the client retries on
 * another replica. The copy is slowed to one 5 MiB part at a time, so that it lasts long enough to
 * be caught in the act (its multipart upload appears under blobs/…/data) and killed there.
 */
describeOnStores(
  'a replica killed during the closing PUT',
  {
    timeout: 300_000,
    kinds: [s3Store(false)],
    env: { REGISTRY_STORAGE_S3_MULTIPARTCOPYCHUNKSIZE: String(5 * MiB), REGISTRY_STORAGE_S3_MULTIPARTCOPYMAXCONCURRENCY: '1' },
  },
  (cluster) => {
    test('the retried PUT on the other replica completes, and purging aborts the copy the kill left', () =>
      withClusterLogs(cluster(), async () => {
        const { proxy, replicas } = cluster();
        const [a, b] = replicas;
        const driver = cluster().driver();
        const name = repoName('killed');
        const blob = randomBlob(SIZE);
        const hex = blob.digest.slice('sha256:'.length);
        const data = `/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;

        let loc = await startUpload(proxy.url, name);
        for (let offset = 0; offset < SIZE; offset += CHUNK)
          loc = (await patchChunk(proxy.url, loc, offset, blob.data.subarray(offset, offset + CHUNK))).location;

        const u = new URL(at(a.url, loc));
        u.searchParams.set('digest', blob.digest);
        const put = fetch(u, { method: 'PUT' }).then(
          (res) => `answered ${res.status}`,
          () => 'killed',
        );
        const deadline = Date.now() + 60_000;
        while ((await leftoversAt(driver, data)).length === 0) {
          assert.ok(Date.now() < deadline, 'the closing PUT never started copying into blobs/');
          await sleep(10);
        }
        await a.stop('SIGKILL');
        assert.equal(await put, 'killed');
        await assert.rejects(driver.stat(data), 'the kill landed before the copy completed');
        const stranded = await leftoversAt(driver, data);
        assert.equal(stranded.length, 1, `the interrupted copy: ${stranded.join(',')}`);

        assert.equal(await uploadStatus(b.url, loc), `0-${SIZE - 1}`, 'the session still holds every byte');
        assert.equal(await finishUpload(b.url, loc, blob.digest), blob.digest);
        assert.equal(await fetchBlobDigest(b.url, name, blob.digest), blob.digest);

        // Purging skips leftovers younger than its age, and aborts the stranded copy once it is older.
        assert.deepEqual(
          (await driver.purgeLeftovers(new Date(Date.now() - 3_600_000))).filter((l) => l.path.startsWith(data)),
          [],
        );
        assert.deepEqual(await leftoversAt(driver, data), stranded);
        await sleep(1_100);
        const purged = (await driver.purgeLeftovers(new Date(Date.now() - 1_000))).map((l) => l.path);
        assert.ok(purged.includes(stranded[0]), `purged ${purged.join(',')}`);
        assert.deepEqual(await leftoversAt(driver, data), []);

        assert.equal(await fetchBlobDigest(b.url, name, blob.digest), blob.digest);
        await assertStoreConsistent(driver, { crashed: true });
      }));
  },
);
