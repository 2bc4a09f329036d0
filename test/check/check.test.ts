import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN_JS, startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { run } from '../helpers/exec';
import { ageTree, plantTemp, V2 } from '../helpers/leftovers';
import { getBytes, imageManifest, pushMonolithic, putManifest, randomBlob } from '../durability/push-client';
import { createFilesystemDriver } from '../../storage-drivers';
import { readLayerRecord } from '../../src/insight/layer-records';
import { parseDigest } from '../../src/oci/digest';
import { waitForRecord } from '../api/insight-helpers';

const SECRET = 'check-test-secret-0123456789abcdef';
const HOUR = 3_600_000;

interface Report {
  repositories: number;
  blobsVerified: number;
  remaining: number;
  counts: Record<string, number>;
  findings: Array<{ kind: string; repository?: string; path: string; detail: string; repaired?: boolean }>;
}

async function push(base: string, name: string, tag: string): Promise<{ digest: string; blobs: string[]; layer: Buffer }> {
  const config = randomBlob(200, 300);
  const layer = randomBlob(2000, 3000);
  const configDigest = await pushMonolithic(base, name, config);
  const layerDigest = await pushMonolithic(base, name, layer);
  const manifest = imageManifest({ digest: configDigest, size: config.length }, [{ digest: layerDigest, size: layer.length }]);
  return { digest: await putManifest(base, name, tag, manifest), blobs: [configDigest, layerDigest], layer };
}

describe('berth check', { timeout: 120_000 }, () => {
  let root: string;
  let berth: BerthProcess;
  const check = (...args: string[]) =>
    run(process.execPath, [MAIN_JS, 'check', ...args], {
      env: { ...process.env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET },
      timeoutMs: 60_000,
      allowFailure: true,
    });
  const checkJson = async (...args: string[]) => {
    const res = await check('--json', ...args);
    return { code: res.code, report: JSON.parse(res.stdout) as Report };
  };
  const hexOf = (digest: string) => digest.slice('sha256:'.length);
  const blobDir = (digest: string) => join(root, V2, 'blobs/sha256', hexOf(digest).slice(0, 2), hexOf(digest));
  const repoDir = (name: string) => join(root, V2, 'repositories', name);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-check-'));
    // Insight off: whether a deleted blob's analysis had been written (a stray-insight finding) would
    // depend on timing; the last test covers it with insight on.
    berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET, REGISTRY_INSIGHT_ENABLED: 'false' } });
  });
  after(async () => {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('rejects unknown flags and arguments with exit code 2', async () => {
    for (const args of [['--bogus'], ['extra'], ['--config']]) {
      const res = await check(...args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /^check: .*\nusage: berth check /);
    }
  });

  it('a healthy store pushed through HTTP checks clean', async () => {
    await push(berth.url, 'healthy/app', 'v1');
    await push(berth.url, 'healthy/app', 'v2');
    await pushMonolithic(berth.url, 'healthy/other', randomBlob(100, 200));
    const human = await check();
    assert.equal(human.code, 0, human.stdout + human.stderr);
    assert.match(human.stdout, /^check: clean \(2 repositories\)/);
    const { code, report } = await checkJson('--verify-digests');
    assert.equal(code, 0);
    assert.deepEqual(report.findings, []);
    assert.equal(report.blobsVerified, 7);
  });

  it('finds each kind of breakage, repairs what is safe once it is old enough, and then checks clean', async () => {
    const name = 'broken/app';
    const kept = await push(berth.url, name, 'v1');
    const lost = await push(berth.url, name, 'v2');
    const gone = await pushMonolithic(berth.url, name, randomBlob(100, 200));
    const corrupt = await pushMonolithic(berth.url, name, randomBlob(100, 200));
    // Data deleted behind the links (a GC race or a lost disk), a revision lost behind its tag, a tag
    // directory with no current link (a crash inside a tag push), flipped bytes, a crash's temp file.
    await rm(blobDir(gone), { recursive: true });
    await rm(join(repoDir(name), '_manifests/revisions/sha256', hexOf(lost.digest)), { recursive: true });
    const ghostIndex = join(repoDir(name), '_manifests/tags/ghost/index/sha256', hexOf(kept.digest));
    await mkdir(ghostIndex, { recursive: true });
    await writeFile(join(ghostIndex, 'link'), kept.digest);
    await writeFile(join(blobDir(corrupt), 'data'), randomBlob(100, 200));
    const temp = await plantTemp(root, `${V2}/blobs/sha256/${hexOf(kept.blobs[1]).slice(0, 2)}/${hexOf(kept.blobs[1])}`, 2 * HOUR);

    const expected = [
      ['corrupt-blob', undefined, `/${V2}/blobs/sha256/${hexOf(corrupt).slice(0, 2)}/${hexOf(corrupt)}/data`],
      ['dangling-layer-link', name, `/${V2}/repositories/${name}/_layers/sha256/${hexOf(gone)}`],
      ['phantom-tag', name, `/${V2}/repositories/${name}/_manifests/tags/ghost`],
      ['tag-missing-revision', name, `/${V2}/repositories/${name}/_manifests/tags/v2`],
      ['temp-leftover', undefined, temp.slice(root.length)],
    ];
    const brief = (r: Report) => r.findings.map((f) => [f.kind, f.repository, f.path]).sort();

    const found = await checkJson('--verify-digests');
    assert.equal(found.code, 1);
    assert.deepEqual(brief(found.report), expected);
    assert.equal(found.report.remaining, 5);
    const human = await check('--verify-digests');
    assert.equal(human.code, 1);
    assert.match(human.stdout, /^check: 5 finding\(s\) in 3 repositories, \d+ blobs verified\n/);
    assert.match(human.stdout, /^ {2}phantom-tag: 1 - /m);
    assert.match(human.stdout, new RegExp(`^tag-missing-revision ${name} /${V2}/repositories/${name}/_manifests/tags/v2: `, 'm'));
    assert.equal((await checkJson('--verify-digests')).report.remaining, 5, 'without --repair nothing changes');

    // Links and tags written moments ago may belong to a push in progress: left alone.
    const early = await checkJson('--repair', '--verify-digests');
    assert.equal(early.code, 1);
    const repaired = (r: Report) => r.findings.filter((f) => f.repaired).map((f) => f.kind).sort();
    assert.deepEqual(repaired(early.report), ['corrupt-blob', 'temp-leftover']);
    assert.equal((await getBytes(`${berth.url}/v2/${name}/blobs/${corrupt}`)).status, 404, 'the corrupt blob must be pushed again');

    await ageTree(root, 2 * HOUR);
    const late = await checkJson('--repair', '--verify-digests');
    assert.equal(late.code, 0, JSON.stringify(late.report.findings));
    assert.deepEqual(repaired(late.report), ['dangling-layer-link', 'dangling-layer-link', 'phantom-tag', 'tag-missing-revision']);

    const again = await check('--verify-digests');
    assert.equal(again.code, 0, again.stdout);
    const tags = await (await fetch(`${berth.url}/v2/${name}/tags/list`)).json();
    assert.deepEqual(tags, { name, tags: ['v1'] });
    assert.equal((await getBytes(`${berth.url}/v2/${name}/manifests/v1`)).status, 200);
    for (const d of kept.blobs) assert.equal((await getBytes(`${berth.url}/v2/${name}/blobs/${d}`)).status, 200);
  });

  it('reports what it cannot repair, and exits 1 after a repair that leaves it', async () => {
    const name = 'unpullable/app';
    const image = await push(berth.url, name, 'v1');
    const headless = await push(berth.url, name, 'v2');
    // A layer whose data is gone makes v1 unpullable; v2's manifest bytes are gone altogether.
    await rm(blobDir(image.blobs[1]), { recursive: true });
    await rm(blobDir(headless.digest), { recursive: true });
    await mkdir(join(repoDir(name), '_manifests/tags/v3/current'), { recursive: true });
    await writeFile(join(repoDir(name), '_manifests/tags/v3/current/link'), 'not a digest');
    const started = await fetch(`${berth.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202);
    const uuid = /\/uploads\/([0-9a-f-]+)/.exec(started.headers.get('location')!)![1];
    await rm(join(repoDir(name), '_uploads', uuid, 'startedat'));
    await writeFile(join(repoDir(name), '_uploads', uuid, 'data'), 'partial');

    const repo = `/${V2}/repositories/${name}`;
    const expected = [
      ['dangling-layer-link', name, `${repo}/_layers/sha256/${hexOf(image.blobs[1])}`],
      ['dangling-revision-link', name, `${repo}/_manifests/revisions/sha256/${hexOf(headless.digest)}`],
      ['invalid-link', name, `${repo}/_manifests/tags/v3/current/link`],
      ['manifest-missing-reference', name, `${repo}/_manifests/revisions/sha256/${hexOf(image.digest)}`],
      ['upload-without-marker', name, `${repo}/_uploads/${uuid}`],
    ].sort();
    const brief = (r: Report) => r.findings.map((f) => [f.kind, f.repository, f.path]).sort();
    const found = await checkJson();
    assert.equal(found.code, 1);
    assert.deepEqual(brief(found.report), expected);
    const missing = found.report.findings.find((f) => f.kind === 'manifest-missing-reference')!;
    assert.match(missing.detail, new RegExp(image.blobs[1]));

    await ageTree(root, 2 * HOUR);
    const repaired = await checkJson('--repair');
    assert.equal(repaired.code, 1, 'what could not be repaired remains');
    assert.deepEqual(
      repaired.report.findings.filter((f) => f.repaired).map((f) => f.kind).sort(),
      ['dangling-layer-link', 'upload-without-marker'],
    );
    const after = await checkJson();
    assert.deepEqual(after.report.findings.map((f) => f.kind).sort(), ['dangling-revision-link', 'invalid-link', 'manifest-missing-reference']);
    assert.equal(after.report.remaining, 3);
    // Pushing the missing layer again makes the image pullable, as the finding says.
    await pushMonolithic(berth.url, name, image.layer);
    assert.equal((await getBytes(`${berth.url}/v2/${name}/manifests/v1`)).status, 200);
    const pushed = await checkJson();
    assert.deepEqual(pushed.report.findings.map((f) => f.kind).sort(), ['dangling-revision-link', 'invalid-link']);
  });
});

describe('berth check on image insight', { timeout: 120_000 }, () => {
  let root: string;
  let berth: BerthProcess;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-check-insight-'));
    berth = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET, REGISTRY_INSIGHT_POLLINTERVAL: '100ms' } });
  });
  after(async () => {
    await berth.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("reports a blob's analysis left after its blob went, and repairs it once an hour old", async () => {
    const name = 'insight/app';
    const kept = await pushMonolithic(berth.url, name, randomBlob(100, 200));
    const gone = await pushMonolithic(berth.url, name, randomBlob(100, 200));
    const driver = createFilesystemDriver({ rootDirectory: root });
    for (const d of [kept, gone]) await waitForRecord(driver, d);
    // The data deleted behind the analysis' back, as a collection killed between its two deletes does.
    const hex = gone.slice('sha256:'.length);
    await rm(join(root, V2, 'blobs/sha256', hex.slice(0, 2), hex), { recursive: true });
    const check = (...args: string[]) =>
      run(process.execPath, [MAIN_JS, 'check', '--json', ...args], { env: { ...process.env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET }, timeoutMs: 60_000, allowFailure: true });
    const strays = (out: string) =>
      (JSON.parse(out) as Report).findings.filter((f) => f.kind === 'stray-insight').map((f) => [f.path, f.repaired]);
    const insightDir = `/berth/insight/layers/sha256/${hex.slice(0, 2)}/${hex}`;
    assert.deepEqual(strays((await check()).stdout), [[insightDir, undefined]]);
    assert.deepEqual(strays((await check('--repair')).stdout), [[insightDir, false]], 'repaired while it may be a write in progress');
    await ageTree(join(root, 'berth/insight'), 2 * HOUR);
    assert.deepEqual(strays((await check('--repair')).stdout), [[insightDir, true]]);
    assert.deepEqual(strays((await check()).stdout), []);
    assert.equal((await readLayerRecord(driver, parseDigest(kept)))?.outcome, 'not-a-layer', "a blob still stored keeps its analysis");
  });
});
