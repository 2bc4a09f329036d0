import assert from 'node:assert/strict';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAIN_JS, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { run, type RunResult } from '../helpers/exec';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob } from '../durability/push-client';
import { requireTools } from '../helpers/tools';
import { shellBlocks, type ShellBlock } from './doc-blocks';

// This file compiles to dist/test/docs/, so the repository is three levels up.
const DOC = path.resolve(__dirname, '..', '..', '..', 'docs', 'operations.md');
const REPOSITORY = 'team/app';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
// What the doc's commands call besides berth.
const skip = requireTools(['curl', 'cp', 'find', 'diff', 'mkdir']);

/**
 * docs/operations.md's backup and restore, run as the doc writes them: its `<!-- run -->` blocks in
 * order, under /bin/sh -e, with `berth` on PATH as this checkout's dist/src/main.js and the doc's
 * ROOT, BACKUP and REGISTRY set, against Berth processes started on temp roots.
 */
describe('docs/operations.md: backup from a read-only registry, restore, berth check, same digests', { skip, timeout: 180_000 }, () => {
  let dir: string;
  let bin: string;
  let readOnlyCheck: ShellBlock, backup: ShellBlock, restore: ShellBlock, compare: ShellBlock;
  let berth: BerthProcess | undefined;
  const pushed: Record<string, { digest: string; layer: Buffer; layerDigest: string }> = {};
  const root = () => path.join(dir, 'root');
  const backupDir = () => path.join(dir, 'backup', 'berth-2026-12-06');
  const restored = () => path.join(dir, 'restored');

  const sh = (block: ShellBlock, vars: Record<string, string>): Promise<RunResult> =>
    run('/bin/sh', ['-e', '-c', block.code], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...vars }, cwd: dir, timeoutMs: 60_000, allowFailure: true });
  const show = (block: ShellBlock, r: RunResult) => `docs/operations.md:${block.line} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const serve = (rootDir: string, env: Record<string, string> = {}) =>
    startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: rootDir, ...env } });

  before(async () => {
    const runnable = (await shellBlocks(DOC)).filter((b) => b.run);
    assert.equal(runnable.length, 4, 'the test knows four runnable blocks: read-only check, backup, restore and check, compare');
    [readOnlyCheck, backup, restore, compare] = runnable;
    dir = await mkdtemp(path.join(tmpdir(), 'berth-docs-ops-'));
    bin = path.join(dir, 'bin');
    await mkdir(bin);
    await writeFile(path.join(bin, 'berth'), `#!/bin/sh\nexec "${process.execPath}" "${MAIN_JS}" "$@"\n`);
    await chmod(path.join(bin, 'berth'), 0o755);
    await mkdir(path.dirname(backupDir()), { recursive: true });

    // A registry in use: two tags, written by a read-write Berth that then stops.
    berth = await serve(root());
    for (const tag of ['1.0', '2.0']) {
      const config = randomBlob(200, 300);
      const layer = randomBlob(2000, 3000);
      const configDigest = await pushMonolithic(berth.url, REPOSITORY, config);
      const layerDigest = await pushMonolithic(berth.url, REPOSITORY, layer);
      const digest = await putManifest(berth.url, REPOSITORY, tag, imageManifest({ digest: configDigest, size: config.length }, [{ digest: layerDigest, size: layer.length }]));
      pushed[tag] = { digest, layer, layerDigest };
    }
    await berth.stop();
    berth = undefined;
  });

  after(async () => {
    await berth?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('read-only mode, as the doc sets it, refuses the push its check tries, and the backup copies the store', async () => {
    berth = await serve(root(), { REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED: 'true' });
    const check = await sh(readOnlyCheck, { REGISTRY: berth.url });
    assert.equal(check.code, 0, show(readOnlyCheck, check));
    assert.equal(check.stdout, '405\n');
    const copy = await sh(backup, { ROOT: root(), BACKUP: backupDir(), REGISTRY: berth.url });
    assert.equal(copy.code, 0, show(backup, copy));
    assert.ok(!(await readdir(path.join(backupDir(), 'berth'))).includes('instance.lock'), 'the running process guard is left out');
    await berth.stop();
    berth = undefined;
  });

  it('restores into an empty root, where berth check finds nothing and Berth serves the same digests and bytes', async () => {
    const r = await sh(restore, { ROOT: restored(), BACKUP: backupDir() });
    assert.equal(r.code, 0, show(restore, r));
    berth = await serve(restored());
    const c = await sh(compare, { ROOT: restored(), BACKUP: backupDir(), REGISTRY: berth.url });
    assert.equal(c.code, 0, show(compare, c));
    for (const [tag, p] of Object.entries(pushed)) {
      assert.match(c.stdout, new RegExp(`^${tag.replace('.', '\\.')}\\s+${p.digest}`, 'm'), 'the registry lists the tag with its digest');
      const res = await fetch(`${berth.url}/v2/${REPOSITORY}/manifests/${tag}`, { headers: { Accept: OCI_MANIFEST } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), p.digest);
      const blob = await getBytes(`${berth.url}/v2/${REPOSITORY}/blobs/${p.layerDigest}`);
      assert.equal(blob.status, 200);
      assert.ok(blob.body.equals(p.layer), `the layer of ${tag} comes back byte for byte`);
    }
    await berth.stop();
    berth = undefined;
  });

  it("finds, with the restore block's berth check, a copy that missed a blob its manifest needs", async () => {
    // What a copy taken during a push can hold: the manifest and tag, not the layer written before them.
    const broken = path.join(dir, 'backup', 'live-copy');
    await cp(backupDir(), broken, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const hex = pushed['2.0'].layerDigest.slice('sha256:'.length);
    await rm(path.join(broken, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex), { recursive: true });
    const r = await sh(restore, { ROOT: path.join(dir, 'restored-live'), BACKUP: broken });
    assert.equal(r.code, 1, show(restore, r));
    assert.match(r.stdout, /manifest-missing-reference/);
    assert.match(r.stdout, new RegExp(`${REPOSITORY}`));
  });
});
