import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAIN_JS, SHORT_QUIET_PERIOD } from '../helpers/berth-process';
import { plantTemp, V2 } from '../helpers/leftovers';

const run = promisify(execFile);
const HOUR = 3_600_000;

describe('garbage collection of temp files left by a crash (berth gc)', { timeout: 60_000 }, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-gc-leftovers-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const gc = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [MAIN_JS, 'gc', '--json', ...args], {
      env: { ...process.env, ...SHORT_QUIET_PERIOD, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: 'gc-leftovers-secret-0123456789' },
      timeout: 30_000,
    });
    return JSON.parse(stdout) as { dryRun: boolean; leftovers: number; leftoverBytes: number };
  };

  it('removes temp files older than the grace period from blob, revision and tag directories, honouring --dry-run', async () => {
    const hex = 'ab'.repeat(32);
    const old = [
      await plantTemp(root, `${V2}/blobs/sha256/ab/${hex}`, 2 * HOUR, 10),
      await plantTemp(root, `${V2}/repositories/app/_manifests/revisions/sha256/${hex}`, 2 * HOUR, 20),
      await plantTemp(root, `${V2}/repositories/app/_manifests/tags/latest/current`, 2 * HOUR, 30),
    ];
    const young = await plantTemp(root, `${V2}/repositories/app/_manifests/tags/latest/current`, 0, 40);

    const dry = await gc('--dry-run');
    assert.equal(dry.dryRun, true);
    assert.equal(dry.leftovers, 3);
    assert.equal(dry.leftoverBytes, 60);
    for (const f of [...old, young]) await stat(f);

    const real = await gc();
    assert.equal(real.leftovers, 3);
    assert.equal(real.leftoverBytes, 60);
    for (const f of old) await assert.rejects(stat(f), /ENOENT/);
    await stat(young);
    assert.equal((await gc()).leftovers, 0);
    assert.equal((await gc('--grace', '0s')).leftovers, 1, 'the young one goes once the grace period allows');
  });
});
