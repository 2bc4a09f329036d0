import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { cpuSeconds } from '../../bench/proc';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { isIdlePolicy, schedulingPolicy } from '../../src/insight/child/scheduling';
import { childPids, statField } from '../../src/proc-files';
import { AnalysisQueue } from '../../src/insight/analysis-queue';
import { readLayerRecord } from '../../src/insight/layer-records';
import { parseDigest, type Digest } from '../../src/oci/digest';
import { listNames } from '../../src/oci/links';
import { paths } from '../../src/oci/paths';
import { SECRET } from '../api/server';
import { queueEmpty, queueLeftovers, waitForRecord, waitUntil } from '../api/insight-helpers';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { assertStoreConsistent } from '../helpers/store-check';
import { imageManifest, pushMonolithic, sha256 } from '../durability/push-client';
import { compress, layerBlob, tarStream, type TestEntry } from '../unit/insight/layers';

async function analysisChild(server: BerthProcess, not?: number): Promise<number> {
  let found: number | undefined;
  await waitUntil('the analysis child', async () => {
    found = (await childPids(server.proc.pid!)).find((p) => p !== not);
    return found !== undefined && server.logs().includes(`"pid":${found},"scheduling"`);
  });
  return found!;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Log lines (JSON) of the process with these fields. */
function lines(server: BerthProcess, msg: string): Array<Record<string, unknown>> {
  return server
    .logs()
    .split('\n')
    .filter((l) => l.includes(msg))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const hasChrt = (() => {
  try {
    execFileSync('chrt', ['--help'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('the analysis child (insight.runner: child, the default)', { timeout: 300_000 }, () => {
  const roots: string[] = [];
  const servers: BerthProcess[] = [];
  /** Children a test stopped (SIGSTOP): continued before anything is killed, or they outlive the run. */
  const stopped: number[] = [];
  after(async () => {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    for (const s of servers) await s.stop('SIGKILL');
    for (const r of roots) await rm(r, { recursive: true, force: true });
  });
  async function start(env: Record<string, string> = {}): Promise<{ server: BerthProcess; root: string }> {
    const root = await mkdtemp(path.join(tmpdir(), 'berth-insight-child-'));
    roots.push(root);
    const server = await startBerthProcess({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root, REGISTRY_HTTP_SECRET: SECRET, REGISTRY_INSIGHT_POLLINTERVAL: '100ms', ...env } });
    servers.push(server);
    return { server, root };
  }

  it('analyses under SCHED_IDLE in a child, which is forked again when killed and stops with the server', async () => {
    const { server, root } = await start();
    const driver = createFilesystemDriver({ rootDirectory: root });
    const first = await analysisChild(server);
    if (hasChrt) {
      // Every thread: zlib's pool and V8's helpers too, not only the one that runs the scan.
      const threads = await readdir(`/proc/${first}/task`);
      for (const tid of threads) assert.ok(isIdlePolicy(await schedulingPolicy(`/proc/${first}/task/${tid}/stat`)), `thread ${tid} is not SCHED_IDLE`);
    }
    const digest = await pushMonolithic(server.url, 'child/app', await layerBlob([{ name: 'etc/hostname', content: 'berth\n' }]));
    assert.equal((await waitForRecord(driver, digest)).outcome, 'analysed');
    // The record is written before the line is logged (and the log is asynchronous).
    const analysedLine = async (d: string) => {
      await waitUntil(`the log line of ${d}'s analysis`, async () => lines(server, '"layer analysed"').some((l) => l.digest === d));
      return lines(server, '"layer analysed"').find((l) => l.digest === d)!;
    };
    assert.equal((await analysedLine(digest)).insight, 'child', 'the layer was analysed by the server process, not its child');

    // Killed once the job is finished (its marker and claim gone): a kill between the record and
    // that leaves a claim that only expires a minute later.
    await waitUntil('the first job finished', () => queueEmpty(driver));
    process.kill(first, 'SIGKILL');
    const second = await analysisChild(server, first);
    const again = await pushMonolithic(server.url, 'child/app', await layerBlob([{ name: 'etc/motd', content: 'hello\n' }]));
    assert.equal((await waitForRecord(driver, again)).outcome, 'analysed');
    assert.equal((await analysedLine(again)).pid, second);
    await waitUntil('the second job finished', () => queueEmpty(driver));

    assert.equal(await server.stop('SIGTERM'), 0);
    assert.equal(alive(second), false, 'the analysis child outlived the server');
    assert.deepEqual(await queueLeftovers(driver), { jobs: [], claims: [] });
    await assertStoreConsistent(driver);
  });

  it('insight.processes: 2 forks two children, which share the layers of one push', async () => {
    // No looks at the queue but the first: each child takes only the jobs the server tells it of.
    const { server, root } = await start({ REGISTRY_INSIGHT_PROCESSES: '2', REGISTRY_INSIGHT_POLLINTERVAL: '1h' });
    const driver = createFilesystemDriver({ rootDirectory: root });
    await waitUntil('two analysis children ready', async () => lines(server, '"analysis child ready"').length === 2);
    const children = await childPids(server.proc.pid!);
    assert.equal(children.length, 2);
    function* files(layer: number): Generator<TestEntry> {
      for (let i = 0; i < 20_000; i++) yield { name: `srv/layer-${layer}/${i % 100}/file-${i}.txt`, content: `line ${i}\n` };
    }
    const layers: string[] = [];
    for (const l of [1, 2]) layers.push(await pushMonolithic(server.url, 'child/two', await buffer(compress(tarStream(files(l)), 'gzip'))));
    for (const layer of layers) assert.equal((await waitForRecord(driver, layer)).fileCount, 20_000);
    await waitUntil('both log lines', async () => layers.every((d) => lines(server, '"layer analysed"').some((l) => l.digest === d)));
    const analysed = lines(server, '"layer analysed"').filter((l) => layers.includes(l.digest as string));
    assert.equal(analysed.length, 2, 'a layer was analysed twice');
    assert.deepEqual(new Set(analysed.map((l) => l.pid)), new Set(children), 'one child analysed both layers');
    await waitUntil('the jobs finished', () => queueEmpty(driver));
    assert.equal(await server.stop('SIGTERM'), 0);
    for (const child of children) assert.equal(alive(child), false, `analysis child ${child} outlived the server`);
    await assertStoreConsistent(driver);
  });

  it('without chrt, runs every thread at nice 19 and still analyses', async () => {
    const { server, root } = await start({ PATH: '/nonexistent' });
    const child = await analysisChild(server);
    assert.match(server.logs(), /chrt not found/);
    // The server logs it on the child's message, which may come a moment after the child's own line.
    await waitUntil("the server's line for the ready child", async () => lines(server, '"analysis child ready"').length > 0);
    assert.equal(lines(server, '"analysis child ready"')[0]?.scheduling, 'nice');
    for (const tid of await readdir(`/proc/${child}/task`)) {
      const stat = await readFile(`/proc/${child}/task/${tid}/stat`, 'utf8');
      assert.equal(statField(stat, 19), '19', `thread ${tid}: nice`);
    }
    const digest = await pushMonolithic(server.url, 'child/nice', await layerBlob([{ name: 'etc/hostname', content: 'berth\n' }]));
    assert.equal((await waitForRecord(createFilesystemDriver({ rootDirectory: root }), digest)).outcome, 'analysed');
  });

  it('goes with a server killed with SIGKILL', async () => {
    const { server } = await start();
    const child = await analysisChild(server);
    await server.stop('SIGKILL');
    await waitUntil('the analysis child to exit', async () => !alive(child), 5_000);
  });

  it('a push under deny waits quietly for a layer another replica analyses, then analyses it once let go', async () => {
    const { server, root } = await start({ REGISTRY_INSIGHT_REPOSITORIES: JSON.stringify({ '**': { secrets: 'deny' } }) });
    const driver = createFilesystemDriver({ rootDirectory: root });
    await analysisChild(server);
    const blob = await layerBlob([{ name: 'etc/hostname', content: 'replica\n' }]);
    // The other replica took the job's claim first.
    const replica = await new AnalysisQueue(driver).claim(parseDigest(sha256(blob)));
    let released = false;
    try {
      const layer = await pushMonolithic(server.url, 'child/replica', blob);
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
      await pushMonolithic(server.url, 'child/replica', config);
      const manifest = imageManifest({ digest: sha256(config), size: config.length }, [{ digest: layer, size: blob.length }]);
      const put = fetch(`${server.url}/v2/child/replica/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
      await new Promise((r) => setTimeout(r, 500));
      // Asking the children to yield a job none of them holds must not send the server straight
      // back to the busy claim, and to the question, in a loop.
      const before = await cpuSeconds(server.proc.pid!);
      await new Promise((r) => setTimeout(r, 2_000));
      const busy = (await cpuSeconds(server.proc.pid!)) - before;
      assert.ok(busy < 0.4, `the server and its child used ${busy.toFixed(2)} CPU seconds in 2 s of waiting`);
      await replica.release();
      released = true;
      const res = await put;
      assert.equal(res.status, 201, await res.text());
      assert.equal((await waitForRecord(driver, layer)).outcome, 'analysed');
    } finally {
      if (!released) await replica.release();
    }
  });

  /**
   * Pushes a 40,000-file layer (a second or two of the child's scan) and waits until the child
   * holds its claim; `meanwhile` runs then, before the manifest's PUT, which is returned.
   */
  async function pushWhileTheChildAnalyses(meanwhile: (child: number, layer: Digest, driver: StorageDriver) => Promise<void>) {
    const { server, root } = await start({ REGISTRY_INSIGHT_REPOSITORIES: JSON.stringify({ '**': { secrets: 'deny' } }), REGISTRY_INSIGHT_WAIT: '30s' });
    const driver = createFilesystemDriver({ rootDirectory: root });
    const child = await analysisChild(server);
    function* files(): Generator<TestEntry> {
      for (let i = 0; i < 40_000; i++) yield { name: `srv/data/${i % 100}/file-${i}.txt`, content: `line ${i}\n` };
    }
    const blob = await buffer(compress(tarStream(files()), 'gzip'));
    const layer = await pushMonolithic(server.url, 'child/deny', blob);
    const d = parseDigest(layer);
    await waitUntil('the child analysing the layer', async () => (await listNames(driver, paths.insightClaims(d))).length > 0, 10_000);
    await meanwhile(child, d, driver);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    await pushMonolithic(server.url, 'child/deny', config);
    const manifest = imageManifest({ digest: sha256(config), size: config.length }, [{ digest: layer, size: blob.length }]);
    const started = performance.now();
    const res = await fetch(`${server.url}/v2/child/deny/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    return { server, driver, layer, res, ms: performance.now() - started };
  }

  it('takes over a layer a push under deny waits for: the server analyses it at once, the child stops', async () => {
    const { server, driver, layer, res } = await pushWhileTheChildAnalyses(async () => undefined);
    assert.equal(res.status, 201, await res.text());
    assert.ok(lines(server, 'taken over').some((l) => l.digest === layer && l.insight === undefined), 'the server did not take the claim over');
    // The child, told to stop, says so when it next runs (SCHED_IDLE: not before the 201 on a busy machine).
    await waitUntil('the child letting go', async () => lines(server, 'yielded').some((l) => l.digest === layer && l.insight === 'child'), 60_000);
    const analysedBy = lines(server, '"layer analysed"').filter((l) => l.digest === layer);
    assert.deepEqual(
      analysedBy.map((l) => l.insight ?? 'server'),
      ['server'],
    );
    assert.equal((await waitForRecord(driver, layer)).fileCount, 40_000);
  });

  // SCHED_IDLE gives the child no CPU time while every core is busy, whatever it holds: stopped, it
  // is the same child on a saturated machine, deterministically. Before the takeover, the push
  // waited for the claim to expire (60 s) and got DENIED after insight.wait.
  it('does not keep a push under deny waiting on a child that gets no CPU time (SIGSTOP)', async () => {
    let finishedFirst = false;
    const { server, driver, layer, res, ms } = await pushWhileTheChildAnalyses(async (child, d, store) => {
      process.kill(child, 'SIGSTOP');
      stopped.push(child);
      finishedFirst = (await readLayerRecord(store, d)) !== null;
    });
    try {
      assert.ok(!finishedFirst, 'the child finished before it was stopped');
      assert.equal(res.status, 201, await res.text());
      assert.ok(ms < 15_000, `the push took ${Math.round(ms)} ms`);
      assert.equal((await waitForRecord(driver, layer)).fileCount, 40_000);
    } finally {
      for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
    }
    // Running again, the child stops its analysis without calling it a failure, and leaves nothing
    // behind. SCHED_IDLE: on a machine kept busy by other work, it may take a while to run at all.
    await waitUntil('the child letting go', async () => lines(server, 'yielded').some((l) => l.digest === layer) || lines(server, 'claim was taken over').some((l) => l.digest === layer), 60_000);
    assert.deepEqual(
      lines(server, 'layer analysis failed').map((l) => l.digest),
      [],
    );
    await waitUntil('an empty queue', () => queueEmpty(driver));
    await server.stop();
    await assertStoreConsistent(driver);
  });
});
