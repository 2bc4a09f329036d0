import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { freePort } from '../helpers/ports';
import { podStart } from './helm-render/berth-config';
import { mainContainer, podSpec, resolvePort, workload } from './helm-render/pod-spec';
import { CHART_DIR, only, render, renderChart, rendererPrerequisites, type K8sObject } from './helm-render/render';

const skip = rendererPrerequisites();
const SECRET = 'a-shared-upload-secret-0123456789';
const S3 = { type: 's3', s3: { bucket: 'registry', accessKey: 'AKIDEXAMPLE', secretKey: 'first-secret-key' } };
const USERS = { htpasswd: { enabled: true, existingSecret: 'registry-users' } };

function seconds(duration: string): number {
  const m = /^(\d+)(s|m)$/.exec(duration);
  if (!m) throw new Error(`unexpected duration ${duration}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

const podAnnotations = (objects: K8sObject[]) => workload(objects).spec.template.metadata.annotations as Record<string, string>;
const hookPod = (objects: K8sObject[]) => only(objects, 'Pod');

describe('the Helm chart, as operators expect it', { skip, timeout: 600_000 }, () => {
  it('names its home, sources and maintainers, and the Kubernetes version the preStop sleep needs', async () => {
    const chart = parse(await readFile(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')) as Record<string, any>;
    assert.match(chart.home, /^https:\/\//);
    assert.ok(chart.sources.length > 0 && chart.maintainers.length > 0 && chart.maintainers[0].name);
    const old = await renderChart({}, { kubeVersion: 'v1.29.8' });
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /chart requires kubeVersion: >=1\.30\.0-0 which is incompatible with Kubernetes v1\.29\.8/);
    assert.equal((await renderChart({}, { kubeVersion: 'v1.30.0' })).code, 0);
  });

  it('holds liveness back with a startup probe, and sleeps before SIGTERM longer than nothing, shorter than the grace period', async () => {
    const objects = await render({});
    const c = mainContainer(workload(objects));
    const startup = c.startupProbe!;
    assert.equal(startup.httpGet.path, '/healthz');
    assert.equal(resolvePort(c, startup.httpGet.port), resolvePort(c, 'http'));
    assert.ok(startup.periodSeconds * startup.failureThreshold >= 30, 'a slow start (a cold S3 bucket) has time');
    // The native sleep action: no shell or binary in the image is needed.
    assert.deepEqual(c.lifecycle?.preStop, { sleep: { seconds: 10 } });
    const drain = seconds((parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>).http.draintimeout);
    assert.ok(podSpec(workload(objects)).terminationGracePeriodSeconds > 10 + drain, 'the sleep and the drain both fit in the grace period');
    assert.equal(mainContainer(workload(await render({ preStopSleepSeconds: 0 }))).lifecycle, undefined);
  });

  it('rolls the pods when a credential changes, and only then', async () => {
    const values = (secretKey: string, httpSecret = SECRET) => ({ storage: { ...S3, s3: { ...S3.s3, secretKey } }, httpSecret: { value: httpSecret } });
    const base = podAnnotations(await render(values('first-secret-key')));
    assert.match(base['checksum/secret'], /^[0-9a-f]{64}$/);
    assert.equal(podAnnotations(await render(values('first-secret-key')))['checksum/secret'], base['checksum/secret']);
    const rotated = podAnnotations(await render(values('second-secret-key')));
    assert.notEqual(rotated['checksum/secret'], base['checksum/secret'], 'a new S3 key rolls the pods');
    assert.equal(rotated['checksum/config'], base['checksum/config'], 'the config did not change');
    assert.notEqual(podAnnotations(await render(values('first-secret-key', `${SECRET}-new`)))['checksum/secret'], base['checksum/secret'], 'a new upload secret too');
    const token = (key: string) => render({ auth: { token: { enabled: true, key, certificate: 'CERT' } }, httpSecret: { value: SECRET } });
    assert.notEqual(podAnnotations(await token('KEY-1'))['checksum/secret'], podAnnotations(await token('KEY-2'))['checksum/secret'], 'a new token key too');
  });

  it('serves metrics on their own ClusterIP Service, never on the registry Service even when that is a LoadBalancer', async () => {
    const objects = await render({ service: { type: 'LoadBalancer' }, metrics: { enabled: true } });
    const w = workload(objects);
    const lb = only(objects, 'Service', w.metadata.name);
    assert.equal(lb.spec.type, 'LoadBalancer');
    assert.deepEqual(lb.spec.ports.map((p: { name: string }) => p.name), ['http']);
    const metrics = only(objects, 'Service', `${w.metadata.name}-metrics`);
    assert.equal(metrics.spec.type, 'ClusterIP');
    assert.deepEqual(metrics.spec.selector, w.spec.selector.matchLabels);
    assert.equal(resolvePort(mainContainer(w), metrics.spec.ports[0].targetPort), 5001);
    assert.ok(!(await render({ service: { type: 'LoadBalancer' } })).some((o) => o.metadata.name.endsWith('-metrics')), 'none without metrics');
  });

  it("starts Berth's debug listener where the metrics Service points, serving /metrics there and only there", async () => {
    const port = await freePort();
    const objects = await render({ metrics: { enabled: true, port } });
    const w = workload(objects);
    const metrics = only(objects, 'Service', `${w.metadata.name}-metrics`);
    assert.equal(resolvePort(mainContainer(w), metrics.spec.ports[0].targetPort), port);
    // The pod's config file and environment as the kubelet gives them; only the data directory moves.
    const { config, env } = podStart(objects);
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-helm-metrics-'));
    let berth: BerthProcess | undefined;
    try {
      const file = path.join(dir, 'config.yml');
      await writeFile(file, config);
      berth = await startBerthProcess({ args: ['--config', file], env: { ...env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: path.join(dir, 'data') } });
      assert.equal((await fetch(`${berth.url}/v2/`)).status, 200, 'a request for the metrics to count');
      const scraped = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /^berth_/m);
      assert.equal((await fetch(`${berth.url}/metrics`)).status, 404, 'not on the registry port');
    } finally {
      await berth?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('adds extra volumes, mounts, env, init containers, sidecars, and pins the image by digest', async () => {
    const digest = 'sha256:' + 'ab'.repeat(32);
    const objects = await render({
      image: { repository: 'registry.example.com/berth', tag: '1.2.3', digest },
      extraEnv: [{ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/ssl/corp/ca.crt' }],
      extraVolumes: [{ name: 'ca', configMap: { name: 'corp-ca' } }],
      extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/corp', readOnly: true }],
      initContainers: [{ name: 'wait', image: 'busybox:1.36', command: ['true'] }],
      sidecars: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.31' }],
    });
    const w = workload(objects);
    const pod = podSpec(w) as ReturnType<typeof podSpec> & { initContainers?: { name: string }[] };
    const c = mainContainer(w);
    assert.equal(c.image, `registry.example.com/berth@${digest}`);
    assert.equal(hookPod(objects).spec.containers[0].image, c.image, 'the test pod runs the same image');
    assert.ok(c.env!.some((e) => e.name === 'NODE_EXTRA_CA_CERTS'));
    assert.deepEqual(pod.volumes.find((v) => v.name === 'ca'), { name: 'ca', configMap: { name: 'corp-ca' } });
    assert.ok(c.volumeMounts!.some((m) => m.name === 'ca' && m.mountPath === '/etc/ssl/corp'));
    assert.deepEqual(pod.initContainers?.map((x) => x.name), ['wait']);
    assert.deepEqual(pod.containers.map((x) => x.name), ['berth', 'proxy']);
    const bad = await renderChart({ image: { digest: 'latest' } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /image\.digest/);
  });

  it('renders a NetworkPolicy only when asked: the registry port for the given peers and the test pod, metrics for theirs', async () => {
    assert.ok(!(await render({})).some((o) => o.kind === 'NetworkPolicy'));
    const from = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }];
    const metricsFrom = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
    const objects = await render({ metrics: { enabled: true }, networkPolicy: { enabled: true, from, metricsFrom } });
    const np = only(objects, 'NetworkPolicy');
    const w = workload(objects);
    assert.deepEqual(np.spec.podSelector.matchLabels, w.spec.selector.matchLabels);
    assert.deepEqual(np.spec.policyTypes, ['Ingress'], 'egress stays open unless rules are given');
    const [registry, metrics] = np.spec.ingress;
    assert.equal(resolvePort(mainContainer(w), registry.ports[0].port), resolvePort(mainContainer(w), 'http'));
    const testLabels = hookPod(objects).metadata.labels!;
    assert.ok(
      registry.from.some((p: { podSelector?: { matchLabels: Record<string, string> } }) => p.podSelector && Object.entries(p.podSelector.matchLabels).every(([k, v]) => testLabels[k] === v)),
      'the helm test pod may reach the registry',
    );
    assert.deepEqual(registry.from.slice(1), from);
    assert.equal(metrics.ports[0].port, 'metrics');
    assert.deepEqual(metrics.from, metricsFrom);
    const open = only(await render({ networkPolicy: { enabled: true, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] } }), 'NetworkPolicy');
    assert.equal(open.spec.ingress.length, 1, 'no metrics rule without metrics');
    assert.equal(open.spec.ingress[0].from, undefined, 'no peers: every source may reach the registry port');
    assert.deepEqual(open.spec.policyTypes, ['Ingress', 'Egress']);
  });

  it('renders the helm test pod as a test hook, with the htpasswd user from the chart Secret or an existing one', async () => {
    const plain = hookPod(await render({}));
    assert.equal(plain.metadata.annotations!['helm.sh/hook'], 'test');
    assert.equal(plain.spec.restartPolicy, 'Never');
    assert.deepEqual(plain.spec.containers[0].command.slice(0, 2), ['node', '-e']);
    assert.ok(!(await render({ tests: { enabled: false } })).some((o) => o.kind === 'Pod'));

    const refused = await renderChart({ auth: USERS });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /set tests\.credentials/);

    const existing = hookPod(await render({ auth: USERS, tests: { credentials: { existingSecret: 'ci-user', usernameKey: 'user', passwordKey: 'pass' } } }));
    const refs = Object.fromEntries(existing.spec.containers[0].env.filter((e: any) => e.valueFrom).map((e: any) => [e.name, e.valueFrom.secretKeyRef]));
    assert.deepEqual(refs, { BERTH_TEST_USERNAME: { name: 'ci-user', key: 'user' }, BERTH_TEST_PASSWORD: { name: 'ci-user', key: 'pass' } });
  });
});
