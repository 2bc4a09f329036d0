import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFilesystemDriver } from '../../storage-drivers';
import { readLayerRecord } from '../../src/insight/layer-records';
import { parseDigest } from '../../src/oci/digest';
import { authConfig, authFixture, USERS, type AuthFixture } from '../auth/helpers';
import { queueLeftovers } from '../api/insight-helpers';
import { startInsightRegistry, type InsightRegistry } from './insight-server';
import { pushImage, Pusher, THREE_LAYERS } from './images';

// Compiled tests run from dist/test/insight; the CLI is dist/src/main.js.
const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

function berth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('berth insight (the CLI) against a registry with token auth', () => {
  let fx: AuthFixture;
  let reg: InsightRegistry;
  let host: string;
  before(async () => {
    fx = await authFixture();
    reg = await startInsightRegistry({
      config: authConfig({
        htpasswd: { path: fx.htpasswd },
        token: { service: 'berth', issuer: 'berth', server: {} },
        accesscontrol: { catalog: { users: ['alice'], groups: [] }, repositories: { 'team/**': { policies: [{ users: ['alice'], actions: ['pull', 'push'] }] } } },
      }),
    });
    host = new URL(reg.url).host;
    // Pushed with basic credentials through the token endpoint, as docker would.
    const token = await fetch(`${reg.url}/auth/token?service=berth&scope=repository:team/app:pull,push`, { headers: { authorization: 'Basic ' + Buffer.from(`alice:${USERS.alice}`).toString('base64') } });
    await pushImage(new Pusher(reg.url, `Bearer ${((await token.json()) as { token: string }).token}`), 'team/app', '1.0', THREE_LAYERS);
  });
  after(async () => {
    await reg.close();
    await fx.cleanup();
  });

  test('the human summary: efficiency, wasted bytes, offenders, secrets, layers; waits while pending', async () => {
    const r = await berth(['insight', `${host}/team/app:1.0`, '--user', 'alice', '--password', USERS.alice, '--wait', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^team\/app@sha256:[0-9a-f]{64}\n/);
    assert.match(r.stdout, /efficiency 3\.\d%, wasted 10\.\d KiB of 10\.\d KiB shipped/);
    assert.match(r.stdout, /9\.8 KiB {2}app\/big\.bin {2}\(added by layer 0: ADD rootfs\.tar \/; removed by layer 1: RUN rm \/app\/big\.bin \/app\/id_ed25519 && …\)/);
    assert.match(r.stdout, /secrets \(warn\):\n {2}layer 0 {2}app\/id_ed25519 {2}private-key {2}private-key:/);
    assert.match(r.stdout, /config {2}config\.Env\[1\] {2}credential-variable/);
    assert.match(r.stdout, /\n2 +\S+ \S+ +1 +0 B {2}COPY etc \/etc\n/);
  });

  test('--json prints the report; --fail-on-secrets exits 3; no credentials exits 1; a bad name exits 2', async () => {
    const json = await berth(['insight', 'team/app@' + (await digestOf()), '--registry', reg.url, '-u', 'alice', '-p', USERS.alice, '--json', '--fail-on-secrets']);
    assert.equal(json.code, 3, json.stderr);
    const report = JSON.parse(json.stdout) as { status: string; wastedBytes: number; secrets: { findings: unknown[] } };
    assert.equal(report.status, 'complete');
    assert.equal(report.secrets.findings.length, 2);
    const anonymous = await berth(['insight', `${host}/team/app:1.0`]);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /pass --user and --password/);
    const unknown = await berth(['insight', `${host}/team/app:2.0`, '-u', 'alice', '-p', USERS.alice]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404 MANIFEST_UNKNOWN/);
    assert.equal((await berth(['insight', 'app:1.0'])).code, 2);
    assert.equal((await berth(['insight'])).code, 2);
  });

  test('--storage: bytes per repository and what a collection would reclaim; needs --registry', async () => {
    const r = await berth(['insight', '--storage', '--registry', reg.url, '-u', 'alice', '-p', USERS.alice]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^stored \S+ \S+; referenced \S+ \S+ \(shared blobs once\), saved by sharing 0 B\n/);
    assert.match(r.stdout, /a garbage collection would reclaim 0 B \(0 blobs no manifest reaches\)/);
    assert.match(r.stdout, /\n +\S+ \S+ +\S+ \S+ +5 {2}team\/app\n/);
    const json = await berth(['insight', '--storage', '--registry', reg.url, '-u', 'alice', '-p', USERS.alice, '--json']);
    assert.equal((JSON.parse(json.stdout) as { repositories: unknown[] }).repositories.length, 1);
    assert.equal((await berth(['insight', '--storage'])).code, 2);
    assert.equal((await berth(['insight', '--storage', 'team/app', '--registry', reg.url])).code, 2);
  });

  async function digestOf(): Promise<string> {
    const token = await fetch(`${reg.url}/auth/token?service=berth&scope=repository:team/app:pull`, { headers: { authorization: 'Basic ' + Buffer.from(`alice:${USERS.alice}`).toString('base64') } });
    const res = await fetch(`${reg.url}/v2/team/app/manifests/1.0`, { method: 'HEAD', headers: { authorization: `Bearer ${((await token.json()) as { token: string }).token}` } });
    return String(res.headers.get('docker-content-digest'));
  }
});

describe('berth insight --store: the report from the store itself, no registry running', () => {
  let root: string;
  let env: Record<string, string>;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-insight-store-'));
    env = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root };
    // Pushed while nothing analyses (an image stored before insight was on, or whose registry is down).
    const reg = await startInsightRegistry({ driver: createFilesystemDriver({ rootDirectory: root }), manual: true });
    await pushImage(new Pusher(reg.url), 'team/app', '1.0', THREE_LAYERS);
    await reg.close();
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('analyses the layers the image waits for, here, and prints the same report', async () => {
    const r = await berth(['insight', 'team/app:1.0', '--store', '--wait', '20'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^team\/app@sha256:[0-9a-f]{64}\n/);
    assert.match(r.stdout, /efficiency 3\.\d%, wasted 10\.\d KiB of 10\.\d KiB shipped/);
    assert.match(r.stdout, /secrets \(warn\):\n {2}layer 0 {2}app\/id_ed25519 {2}private-key {2}private-key:/);
    // Analysed for good: the records are in the store, the jobs done.
    const driver = createFilesystemDriver({ rootDirectory: root });
    const json = JSON.parse((await berth(['insight', 'team/app:1.0', '--store', '--json', '--wait', '0'], env)).stdout) as { status: string; layers: Array<{ digest: string }> };
    assert.equal(json.status, 'complete');
    for (const layer of json.layers) assert.equal((await readLayerRecord(driver, parseDigest(layer.digest)))?.outcome, 'analysed');
    // Only what the image waited for: its config blob, queued at its push, stays for the registry.
    const left = await queueLeftovers(driver);
    assert.deepEqual(left.claims, []);
    assert.deepEqual(left.jobs.filter((job) => json.layers.some((l) => l.digest === job.replace('-', ':'))), []);
    assert.ok(left.jobs.length > 0);
    assert.equal((await berth(['insight', 'team/app:1.0', '--store', '--fail-on-secrets'], env)).code, 3);
  });

  test('--storage --store, a missing image, and what --store refuses', async () => {
    const view = await berth(['insight', '--storage', '--store'], env);
    assert.equal(view.code, 0, view.stderr);
    assert.match(view.stdout, /\n +\S+ \S+ +\S+ \S+ +5 {2}team\/app\n/);
    const unknown = await berth(['insight', 'team/app:2.0', '--store'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /MANIFEST_UNKNOWN/);
    assert.equal((await berth(['insight', 'localhost:5000/team/app:1.0', '--store'], env)).code, 2);
    assert.equal((await berth(['insight', 'team/app:1.0', '--store', '--registry', 'http://127.0.0.1:1'], env)).code, 2);
    assert.equal((await berth(['insight', 'team/app:1.0', '--config', 'berth.yml'], env)).code, 2);
  });
});
