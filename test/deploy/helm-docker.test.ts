import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcrypt';
import { buildBaseImages, copyBuildContext } from '../helpers/base-image';
import { removeTree } from '../helpers/daemon';
import { startDockerd, type Dockerd } from '../helpers/dockerd';
import { berthImageFromContext } from '../helpers/image-cache';
import { requireTools } from '../helpers/tools';
import { dockerRunArgs } from './helm-render/docker-run';
import { mainContainer, resolvePort, secretData, workload, type Probe } from './helm-render/pod-spec';
import { render, REPO_ROOT, rendererPrerequisites, type K8sObject } from './helm-render/render';
import { freePort } from '../helpers/ports';

const skip = rendererPrerequisites() || requireTools(['dockerd', 'docker', 'busybox', 'ldd', 'tar', 'cp'], { root: true });
const IMAGE = { repository: 'berth', tag: 'test' };


/**
 * Polls a probe as the kubelet does (HTTP GET on the container's port, 200–399 is success) and
 * resolves once it succeeds; fails when it has not by the time the kubelet would have given up:
 * the initial delay plus failureThreshold periods.
 */
async function probeSucceeds(probe: Probe, port: number, logs: () => Promise<string>): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + ((probe.initialDelaySeconds ?? 0) + probe.periodSeconds * probe.failureThreshold) * 1000;
  const url = `http://127.0.0.1:${port}${probe.httpGet.path}`;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch((e: Error) => e);
    if (!(res instanceof Error)) {
      const body = await res.text();
      if (res.status >= 200 && res.status < 400) return { status: res.status, body };
      last = `status ${res.status}: ${body.slice(0, 200)}`;
    } else last = res.message;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`probe ${url} never succeeded (${last})\n${await logs()}`);
}

describe('the chart\'s rendered container spec, run with the real Docker engine', { skip, timeout: 1_800_000 }, () => {
  let dockerd: Dockerd | undefined;
  let context: string | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    dockerd = await startDockerd();
    const bases = await buildBaseImages(dockerd);
    context = await copyBuildContext(REPO_ROOT);
    const started = Date.now();
    const how = await berthImageFromContext(dockerd, context, bases, `${IMAGE.repository}:${IMAGE.tag}`);
    console.log(`# image ${IMAGE.repository}:${IMAGE.tag} ${how} in ${Date.now() - started} ms`);
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    if (dockerd) await dockerd.stop();
    if (context) await removeTree(context);
  });

  /** Renders `values`, runs the workload's container as the spec says, and waits for both probes. */
  async function runRendered(name: string, values: Record<string, unknown>, existingSecrets: Record<string, Record<string, string>> = {}) {
    const d = dockerd!;
    const port = await freePort();
    const objects: K8sObject[] = await render({
      ...values,
      image: { ...IMAGE, pullPolicy: 'Never' },
      containerPort: port,
      // The test hook reaches Berth through the Service name and port; the host network has no Service.
      service: { port },
      // The chart listens on every interface (:port); on the host network the test keeps it on loopback.
      extraEnv: [{ name: 'REGISTRY_HTTP_ADDR', value: `127.0.0.1:${port}` }],
    });
    const w = workload(objects);
    const c = mainContainer(w);
    assert.equal(c.image, `${IMAGE.repository}:${IMAGE.tag}`);
    const filesDir = await mkdtemp('/tmp/berth-helm-pod-');
    const volume = `${name}-data`;
    cleanups.push(async () => {
      await d.docker(['rm', '-f', '-v', name], 30_000).catch(() => undefined);
      await d.docker(['volume', 'rm', '-f', volume], 30_000).catch(() => undefined);
      await removeTree(filesDir);
    });
    const args = await dockerRunArgs(w, objects, { name, filesDir, dataVolume: volume, secrets: secretData(objects, existingSecrets) });
    await d.docker(args);
    const logs = () => d.docker(['logs', name]).catch((e: Error) => e.message);
    const declared = resolvePort(c, 'http');
    assert.equal(declared, port);
    // The kubelet runs the startup probe first, and the others only once it has succeeded.
    await probeSucceeds(c.startupProbe!, resolvePort(c, c.startupProbe!.httpGet.port), logs);
    const liveness = await probeSucceeds(c.livenessProbe!, resolvePort(c, c.livenessProbe!.httpGet.port), logs);
    const readiness = await probeSucceeds(c.readinessProbe!, resolvePort(c, c.readinessProbe!.httpGet.port), logs);
    return { objects, port, liveness, readiness, logs, inspect: async () => JSON.parse(await d.docker(['inspect', name]))[0] };
  }

  /** The `workers` of the primary's `listening` line, and Berth's processes in the container (the primary and its workers). */
  async function workersRunning(name: string, logs: () => Promise<string>): Promise<{ listening: number; processes: number }> {
    const listening = (await logs())
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; workers?: number })
      .find((l) => l.msg === 'listening');
    assert.ok(listening, 'the primary logged listening');
    const top = await dockerd!.docker(['top', name, '-o', 'pid,args']);
    return { listening: listening.workers!, processes: top.split('\n').filter((l) => /node \/app\/dist\/src\/main\.js serve/.test(l)).length };
  }

  /** Runs the rendered helm test pod (as `helm test` would) against the pod started by runRendered; resolves to its output. */
  async function helmTest(name: string, objects: K8sObject[], existingSecrets: Record<string, Record<string, string>> = {}): Promise<string> {
    const d = dockerd!;
    const hook = objects.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
    assert.ok(hook, 'the chart renders a test hook');
    const filesDir = await mkdtemp('/tmp/berth-helm-test-pod-');
    cleanups.push(async () => {
      await d.docker(['rm', '-f', name], 30_000).catch(() => undefined);
      await removeTree(filesDir);
    });
    const service = workload(objects).metadata.name;
    const container = hook.spec.containers[0].name as string;
    const args = await dockerRunArgs(hook, objects, { name, filesDir, dataVolume: `${name}-none`, secrets: secretData(objects, existingSecrets), container, addHosts: [`${service}:127.0.0.1`] });
    await d.docker(args);
    const code = (await d.docker(['wait', name], 120_000)).trim();
    const output = await d.docker(['logs', name]);
    assert.equal(code, '0', `helm test pod failed:\n${output}`);
    return output;
  }

  it('starts the default StatefulSet pod: non-root, read-only root, answering its probes and storing on its volume', async () => {
    const pod = await runRendered('berth-helm-default', {});
    assert.equal(JSON.parse(pod.liveness.body).status, 'ok');
    assert.equal(JSON.parse(pod.readiness.body).status, 'ready');
    const info = await pod.inspect();
    assert.equal(info.State.Running, true);
    assert.equal(info.Config.User, '1000:1000');
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    // `docker top` needs the pid column to map ps output to the container.
    const top = await dockerd!.docker(['top', 'berth-helm-default', '-o', 'pid,uid,args']);
    assert.match(top, /^\s*\d+\s+1000\s+node \/app\/dist\/src\/main\.js serve --config \/etc\/berth\/config\.yml/m);
    // The chart's http.workers (2): a primary and two workers, within the chart's memory limit.
    assert.deepEqual(await workersRunning('berth-helm-default', pod.logs), { listening: 2, processes: 3 });
    const stats = await dockerd!.docker(['stats', '--no-stream', '--format', '{{.MemUsage}}', 'berth-helm-default']);
    console.log(`# the default pod's memory (primary and 2 workers, idle): ${stats.trim()}`);

    // A write lands on the volume: the read-only root does not get in the way of storage.
    const blob = Buffer.from(`stored by the chart's pod at ${Date.now()}\n`);
    const digest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
    const base = `http://127.0.0.1:${pod.port}`;
    const put = await fetch(`${base}/v2/helm/smoke/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob, headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(put.status, 201, await put.text());
    const got = await fetch(`${base}/v2/helm/smoke/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), blob);

    assert.match(await helmTest('berth-helm-default-test', pod.objects), /pushed and pulled helm-test\/berth:helm-test-\d+ through http:\/\/reg-berth:\d+, then deleted it/);
  });

  it('follows a CPU limit when http.workers is unset: one worker under a 1-CPU quota', async () => {
    const pod = await runRendered('berth-helm-cpu-limit', {
      config: { http: { workers: null } },
      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '768Mi' } },
    });
    assert.deepEqual(await workersRunning('berth-helm-cpu-limit', pod.logs), { listening: 1, processes: 1 });
  });

  it('starts with htpasswd users from an existing Secret and the generated token key', async () => {
    const users = `alice:${await bcrypt.hash('alice-password', 6)}\n`;
    const values = {
      auth: { htpasswd: { enabled: true, existingSecret: 'registry-users' }, token: { enabled: true } },
      tests: { credentials: { username: 'alice', password: 'alice-password' } },
    };
    const pod = await runRendered('berth-helm-auth', values, { 'registry-users': { htpasswd: users } });
    assert.equal(JSON.parse(pod.readiness.body).status, 'ready', 'probes stay outside registry auth');
    const base = `http://127.0.0.1:${pod.port}`;
    const anonymous = await fetch(`${base}/v2/`);
    assert.equal(anonymous.status, 401);
    const challenge = anonymous.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer realm="[^"]+"/);
    const realm = /realm="([^"]+)"/.exec(challenge)![1];
    const basic = 'Basic ' + Buffer.from('alice:alice-password').toString('base64');
    const tokenRes = await fetch(`${realm}?service=berth&scope=${encodeURIComponent('repository:private/app:pull,push')}`, { headers: { Authorization: basic } });
    assert.equal(tokenRes.status, 200, await tokenRes.clone().text());
    const { token } = (await tokenRes.json()) as { token: string };
    const authed = await fetch(`${base}/v2/`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(authed.status, 200, 'a token signed with the chart\'s key is accepted');
    const wrong = await fetch(realm + '?service=berth', { headers: { Authorization: 'Basic ' + Buffer.from('alice:nope').toString('base64') } });
    assert.equal(wrong.status, 401);

    // helm test logs in as the user in the chart's Secret and gets a token from the token server.
    assert.match(await helmTest('berth-helm-auth-test', pod.objects, { 'registry-users': { htpasswd: users } }), /pushed and pulled helm-test\/berth/);
  });
});
