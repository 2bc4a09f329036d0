import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import { parseDigest } from '../../src/oci/digest';
import { GarbageCollector } from '../../src/oci/gc';
import { GcLease, GcLeaseLost } from '../../src/oci/gc-lease';
import { Listing } from '../../src/oci/listing';
import { paths } from '../../src/oci/paths';
import { sha256 } from '../durability/push-client';
import { leaseScenarios } from './lease-scenarios';

describe('the GC lease on the filesystem', { timeout: 120_000 }, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-gc-lease-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  leaseScenarios(() => ({
    driver: () => createFilesystemDriver({ rootDirectory: root }),
    env: () => ({ REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: 'gc-lease-test-secret-0123456789' }),
  }));
});

describe('a collection whose lease is lost', () => {
  it('deletes nothing', async () => {
    const driver = createMemoryDriver();
    const data = Buffer.from('an orphan nobody links');
    const digest = parseDigest(sha256(data));
    await driver.putContent(paths.blobData(digest), data);
    const lease = await GcLease.acquire(driver, { ttlMs: 3_000, renewMs: 50, fenceMs: 1_000 });
    await driver.createExclusive(paths.gcLease(lease.number + 1), Buffer.from('{}'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const collecting = new GarbageCollector(driver, new Listing(driver)).collect({ grace: 0, deleteUntagged: true, dryRun: false, lease, now: Date.now() + 60_000 });
    await assert.rejects(collecting, GcLeaseLost);
    assert.deepEqual(await driver.getContent(paths.blobData(digest)), data);
  });
});
