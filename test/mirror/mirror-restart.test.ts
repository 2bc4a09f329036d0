import assert from 'node:assert/strict';
import http from 'node:http';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { digestOf, getRaw, pushBlob, randomBlob } from '../api/helpers';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { distributionSkipReason, startDistribution, type DistributionProcess } from '../helpers/distribution';
import { until } from './fetch-fixtures';
import { startGate, type UpstreamGate } from './upstream-gate';

/*
 * A Berth process killed (SIGKILL) while it fetches a blob for a client: nothing is cached, the spool
 * holds nothing, and the restarted process fetches the blob afresh and serves every byte.
 */

const NAME = 'up.test/library/big';
let skipReason: string | undefined;
let work = '';
let dist: DistributionProcess | undefined;
let gate: UpstreamGate | undefined;
let berth: BerthProcess | undefined;
const big = randomBlob(8 * 1024 * 1024);

before(async () => {
  skipReason = await distributionSkipReason();
  if (skipReason) return;
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-restart-'));
  dist = await startDistribution({ rootDirectory: path.join(work, 'upstream') });
  await pushBlob(request.agent(dist.url), 'library/big', big);
  gate = await startGate(dist.url);
});

after(async () => {
  await berth?.stop('SIGKILL');
  await gate?.close();
  await dist?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const start = () =>
  startBerthProcess({
    env: {
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(work, 'store'),
      REGISTRY_HTTP_SECRET: 'a-test-secret-of-32-characters!!',
      REGISTRY_MIRRORS: JSON.stringify([{ prefix: 'up.test', url: gate!.url }]),
      REGISTRY_MIRROR_SPOOLDIRECTORY: path.join(work, 'spool'),
    },
  });

describe('mirror restarted mid-fetch', () => {
  test('SIGKILL while a blob streams: nothing cached or spooled; after a restart the pull gets every byte', async (t) => {
    if (skipReason) return t.skip(skipReason);
    berth = await start();
    gate!.stallBlobAfter = 3 * 1024 * 1024;
    let received = 0;
    const failed = new Promise<void>((resolve) => {
      http.get(`${berth!.url}/v2/${NAME}/blobs/${big.digest}`, (res) => {
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
    });
    await until(() => received > 0);
    await berth.stop('SIGKILL');
    await failed;
    assert.ok(received < big.size, `the client got ${received} bytes`);
    const data = path.join(work, 'store', 'docker', 'registry', 'v2', 'blobs', 'sha256', big.digest.slice(7, 9), big.digest.slice(7), 'data');
    await assert.rejects(access(data), 'no blob data was committed');
    assert.deepEqual(await readdir(path.join(work, 'spool')), [], 'spool files are unlinked once opened');

    gate!.stallBlobAfter = undefined;
    berth = await start();
    const whole = await getRaw(request.agent(berth.url), `/v2/${NAME}/blobs/${big.digest}`).expect(200);
    assert.equal(digestOf(whole.body as Buffer), big.digest);
    await access(data);
  });
});
