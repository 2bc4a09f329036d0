import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { createFilesystemDriver } from '../../storage-drivers';
import { LayerAnalyser } from '../../src/insight/analyser';
import { storedEntries } from '../../src/insight/layer-records';
import { parseDigest } from '../../src/oci/digest';
import { isFile, listNames } from '../../src/oci/links';
import { paths } from '../../src/oci/paths';
import { childPids } from '../../src/proc-files';
import { SECRET } from '../api/server';
import { queueLeftovers, waitForRecord, waitUntil } from '../api/insight-helpers';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { assertStoreConsistent } from '../helpers/store-check';
import { pushMonolithic } from '../durability/push-client';
import { compress, tarStream, type TestEntry } from '../unit/insight/layers';

/** Enough small files that the scan lasts a second or more: long enough to be killed in the act. */
const FILES = 120_000;

function* manyFiles(): Generator<TestEntry> {
  for (let i = 0; i < FILES; i++) yield { name: `srv/data/${i % 100}/file-${i}.txt`, content: `line ${i}\n` };
}

describe('a replica killed (SIGKILL) in the middle of an analysis', { timeout: 180_000 }, () => {
  let root: string | undefined;
  let child: BerthProcess | undefined;
  after(async () => {
    await child?.stop('SIGKILL');
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('leaves no record, and another process takes the job over once the claim expires', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-insight-kill-'));
    const driver = createFilesystemDriver({ rootDirectory: root });
    child = await startBerthProcess({
      env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET, REGISTRY_INSIGHT_POLLINTERVAL: '100ms' },
    });
    const blob = await buffer(compress(tarStream(manyFiles()), 'gzip'));
    const digest = await pushMonolithic(child.url, 'insight/killed', blob);
    const d = parseDigest(digest);
    // In the act: the claim taken and the file list being written.
    await waitUntil('the analysis under way', async () => (await listNames(driver, paths.insightClaims(d))).length > 0 && (await isFile(driver, paths.insightFileList(d))), 30_000);
    // The whole replica, as a crash of its machine or container: the server and its analysis child.
    for (const pid of await childPids(child.proc.pid!)) process.kill(pid, 'SIGKILL');
    await child.stop('SIGKILL');
    assert.equal(await isFile(driver, paths.insightLayerRecord(d)), false, 'the analysis ended before the kill: make the layer bigger');
    assert.deepEqual((await queueLeftovers(driver)).jobs, [`sha256-${d.hex}`]);

    const analysed: string[] = [];
    const survivor = new LayerAnalyser({
      driver,
      config: { concurrency: 1, pollinterval: 100, secretheadbytes: 65536 },
      logger: pino({ level: 'silent' }),
      observer: { queueDepth: () => undefined, analysed: (r) => analysed.push(r.digest) },
      // The dead holder's claim counts as expired once it was not renewed for 2 s, by this process's reckoning.
      claimTimings: { ttlMs: 2_000, renewMs: 200, fenceMs: 1_000 },
    });
    survivor.start();
    try {
      const record = await waitForRecord(driver, digest, 120_000);
      assert.equal(record.outcome, 'analysed');
      assert.equal(record.fileCount, FILES);
      assert.equal(record.compressedSize, blob.length);
    } finally {
      await survivor.stop();
    }
    assert.deepEqual(analysed, [digest]);
    let listed = 0;
    for await (const entry of storedEntries(driver, d)) if (entry.type === 'file') listed++;
    assert.equal(listed, FILES, 'the file list the kill left half-written was not replaced whole');
    assert.deepEqual(await queueLeftovers(driver), { jobs: [], claims: [] });
    await assertStoreConsistent(driver);
  });
});
