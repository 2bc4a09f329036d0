import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAIN_JS, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { run } from '../helpers/exec';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob } from '../durability/push-client';

const SECRET = 'check-mirror-secret-0123456789abcdef';

// A mirror stores a manifest when it is pulled and its blobs only when they are: `berth check` must
// not call that cache damage, while the same store read without the mirror configured is reported.
describe('berth check on a pull-through mirror', { timeout: 120_000 }, () => {
  let dir: string;
  let upstream: BerthProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-check-mirror-'));
    upstream = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'upstream'), REGISTRY_HTTP_SECRET: SECRET } });
    const config = randomBlob(200, 300);
    const layer = randomBlob(2000, 3000);
    const manifest = imageManifest(
      { digest: await pushMonolithic(upstream.url, 'team/app', config), size: config.length },
      [{ digest: await pushMonolithic(upstream.url, 'team/app', layer), size: layer.length }],
    );
    await putManifest(upstream.url, 'team/app', 'v1', manifest);
  });
  after(async () => {
    await upstream?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const env = (mirrored: boolean) => ({
    ...process.env,
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'mirror'),
    REGISTRY_HTTP_SECRET: SECRET,
    REGISTRY_PROXY_REMOTEURL: mirrored ? upstream.url : '',
  });

  it('does not report a cached manifest whose blobs were never pulled, and does without the mirror configured', async () => {
    const mirror = await startBerthProcess({ env: env(true) });
    try {
      assert.equal((await getBytes(`${mirror.url}/v2/team/app/manifests/v1`)).status, 200);
    } finally {
      await mirror.stop();
    }
    const check = (mirrored: boolean) => run(process.execPath, [MAIN_JS, 'check', '--json'], { env: env(mirrored), timeoutMs: 60_000, allowFailure: true });
    const asMirror = await check(true);
    assert.equal(asMirror.code, 0, asMirror.stdout + asMirror.stderr);
    const asPlain = await check(false);
    assert.equal(asPlain.code, 1);
    const report = JSON.parse(asPlain.stdout) as { counts: Record<string, number> };
    assert.equal(report.counts['manifest-missing-reference'], 1);
  });
});
