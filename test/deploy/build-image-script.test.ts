import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUILD_IMAGE_SCRIPT, freePort, waitForStatus } from '../helpers/base-image';
import { shellBlocks } from '../docs/doc-blocks';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { run, type RunResult } from '../helpers/exec';
import { requireTools } from '../helpers/tools';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const HELM_DOC = path.join(REPO_ROOT, 'docs', 'helm.md');
const skip = requireTools(['dockerd', 'docker', 'busybox', 'ldd', 'tar', 'git'], { root: true });

// The operator's command of docs/helm.md, "Building the image" (its one <!-- run --> block), run as
// written against a private dockerd (DOCKER_HOST), from the repository: one full build. The deploy suites use the same script
// for their bases (test/helpers/base-image.ts), so they cover it too; this checks what only the
// whole script does: no pull, the release labels, the node it was run with, a working server.
describe('scripts/build-image.mjs, the documented way to build the image without a public registry', { skip, timeout: 1_800_000 }, () => {
  let dockerd: Dockerd;
  let build: RunResult;
  let head: string;
  let tag: string;
  const container = 'berth-script-test';

  before(async () => {
    dockerd = await startDockerd();
    // Read before the build: the revision the script labels the image with is HEAD when it runs.
    head = (await run('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'])).stdout.trim();
    const [block, ...more] = (await shellBlocks(HELM_DOC)).filter((b) => b.run);
    assert.equal(more.length, 0, 'docs/helm.md has one block to run: the build');
    tag = /--tag (\S+)/.exec(block.code)?.[1] ?? assert.fail(`docs/helm.md:${block.line} names no --tag`);
    const started = Date.now();
    // As written, from the checkout, with this test's node (Node 24 under npm test) as `node`.
    const env = { ...process.env, ...dockerd.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };
    build = await run('/bin/sh', ['-e', '-c', block.code], { cwd: REPO_ROOT, env, timeoutMs: 1_500_000, allowFailure: true });
    console.log(`# docs/helm.md:${block.line} (node scripts/build-image.mjs) took ${Date.now() - started} ms`);
  });

  after(async () => {
    if (dockerd) {
      await dockerd.docker(['rm', '-f', container], 30_000).catch(() => undefined);
      await dockerd.stop();
    }
  });

  it('builds the image on bases it assembles itself, pulling nothing', async () => {
    assert.equal(build.code, 0, `the script failed:\n${build.stdout.slice(-3000)}\n${build.stderr.slice(-3000)}`);
    assert.match(build.stdout, new RegExp(`build-image: built ${tag.replace(/\./g, '\\.')} \\(node ${process.version}\\) on berth-base-builder:local and berth-base:local`));
    // Named images only: the classic builder leaves each build stage as an untagged image.
    const images = (await dockerd.docker(['image', 'ls', '-a', '--format', '{{.Repository}}:{{.Tag}}']))
      .trim()
      .split('\n')
      .filter((i) => i !== '<none>:<none>')
      .sort();
    assert.deepEqual(images, ['berth-base-builder:local', 'berth-base:local', tag].sort(), 'no image other than the two bases and the result');
  });

  it('labels the image with the version, the git revision and the build time', async () => {
    const labels = JSON.parse(await dockerd.docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', tag])) as Record<string, string>;
    const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(labels['org.opencontainers.image.version'], version);
    assert.equal(labels['org.opencontainers.image.revision'], head);
    assert.ok(Math.abs(Date.parse(labels['org.opencontainers.image.created']) - Date.now()) < 3_600_000, labels['org.opencontainers.image.created']);
  });

  it('runs the node the script was run with, and the image serves the registry', async () => {
    assert.equal((await dockerd.docker(['run', '--rm', '--entrypoint', 'node', tag, '--version'])).trim(), process.version);
    const addr = `127.0.0.1:${await freePort()}`;
    await dockerd.docker(['run', '-d', '--name', container, '--network', 'host', '-e', `REGISTRY_HTTP_ADDR=${addr}`, tag]);
    await waitForStatus(`http://${addr}/v2/`, 200, 30_000, () => dockerd.docker(['logs', container]).catch((e: Error) => e.message));
  });
});

describe('scripts/build-image.mjs before it builds anything', () => {
  it('refuses a node older than package.json engines, cleans up after a failed assembly, and exits 2 on a usage error', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-build-image-'));
    try {
      const old = path.join(dir, 'node');
      await writeFile(old, '#!/bin/sh\necho v20.20.2\n');
      await chmod(old, 0o755);
      const r = await run(process.execPath, [BUILD_IMAGE_SCRIPT, '--bases-only', '--node', old], { allowFailure: true });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /is v20\.20\.2; Berth needs node >=24 \(package\.json engines\)/);
      // A node that passes the check but that ldd cannot read: the script fails while assembling,
      // and leaves no half-built tree in its temp directory.
      const odd = path.join(dir, 'bin', 'node');
      await mkdir(path.dirname(odd));
      await writeFile(odd, '#!/bin/sh\necho v24.0.0\n');
      await chmod(odd, 0o755);
      const temp = path.join(dir, 'tmp');
      await mkdir(temp);
      const broken = await run(process.execPath, [BUILD_IMAGE_SCRIPT, '--bases-only', '--node', odd], { env: { ...process.env, TMPDIR: temp }, allowFailure: true });
      assert.equal(broken.code, 1, broken.stderr);
      assert.match(broken.stderr, /build-image: ldd .* exited with 1/);
      assert.deepEqual(await readdir(temp), [], 'the assembly trees are removed');
      const usage = await run(process.execPath, [BUILD_IMAGE_SCRIPT, '--tga', 'x'], { allowFailure: true });
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /unknown argument --tga\nusage: node scripts\/build-image\.mjs/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
