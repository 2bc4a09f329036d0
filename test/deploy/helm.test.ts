import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { berthAccepts, berthCheck } from './helm-render/berth-config';
import {
  claimTemplates,
  mainContainer,
  mountedFile,
  podSpec,
  resolveEnv,
  resolvePort,
  secretData,
  workload,
  type Container,
} from './helm-render/pod-spec';
import { assertSchemaRefuses, only, render, renderChart, rendererPrerequisites, type K8sObject } from './helm-render/render';

const skip = rendererPrerequisites();
const SECRET = 'a-shared-upload-secret-0123456789';

const S3_VALUES = {
  replicaCount: 3,
  storage: { type: 's3', s3: { bucket: 'registry', regionendpoint: 'http://rgw.storage:7480', forcepathstyle: true, accessKey: 'AKIDEXAMPLE', secretKey: 'wJalrXUtnFEMI' } },
  httpSecret: { value: SECRET },
  autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 6 },
  ingress: { enabled: true, className: 'nginx', annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '1800' }, hosts: [{ host: 'registry.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }], tls: [{ secretName: 'registry-tls', hosts: ['registry.example.com'] }] },
  metrics: { enabled: true, serviceMonitor: { enabled: true } },
};

const HTPASSWD_VALUES = {
  auth: { htpasswd: { enabled: true, existingSecret: 'registry-users', key: 'users.htpasswd' }, token: { enabled: true, service: 'berth', issuer: 'berth-in-cluster' } },
  tests: { credentials: { username: 'alice', password: 'alice-password' } },
};

function kinds(objects: K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}

function containsAll(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Selectors of the workload, Service, PDB and ServiceMonitor all pick the workload's pods and nothing wider. */
function assertSelectorsMatch(objects: K8sObject[]): void {
  const w = workload(objects);
  const selector = w.spec.selector.matchLabels as Record<string, string>;
  const podLabels = w.spec.template.metadata.labels as Record<string, string>;
  assert.ok(Object.keys(selector).length >= 2, 'selector needs name and instance');
  assert.ok(containsAll(podLabels, selector), 'pod labels carry the workload selector');
  assert.equal(selector['app.kubernetes.io/instance'], 'reg');
  for (const svc of objects.filter((o) => o.kind === 'Service')) assert.deepEqual(svc.spec.selector, selector, `Service ${svc.metadata.name}`);
  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) assert.deepEqual(pdb.spec.selector.matchLabels, selector);
  for (const sm of objects.filter((o) => o.kind === 'ServiceMonitor')) {
    const selected = objects.filter((o) => o.kind === 'Service' && containsAll(o.metadata.labels, sm.spec.selector.matchLabels));
    assert.deepEqual(
      selected.map((o) => o.metadata.name),
      [`${w.metadata.name}-metrics`],
      'the ServiceMonitor selects the metrics Service alone',
    );
  }
  for (const o of objects) {
    // The hook pod must stay outside the workload's selector, or its ReplicaSet would adopt it.
    if (o.metadata.annotations?.['helm.sh/hook']) assert.ok(!containsAll(o.metadata.labels, selector), `${o.kind}/${o.metadata.name} matches the workload selector`);
    else assert.ok(containsAll(o.metadata.labels, selector), `${o.kind}/${o.metadata.name} carries the release labels`);
  }
}

function assertProbes(c: Container): void {
  assert.equal(c.livenessProbe?.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe?.httpGet.path, '/readyz');
  const http = resolvePort(c, 'http');
  assert.equal(resolvePort(c, c.livenessProbe.httpGet.port), http, 'liveness on the main port');
  assert.equal(resolvePort(c, c.readinessProbe.httpGet.port), http, 'readiness on the main port');
}

function assertHardened(objects: K8sObject[]): void {
  const w = workload(objects);
  const pod = podSpec(w);
  const c = mainContainer(w);
  const sources = [...pod.volumes.map((v) => v.name), ...claimTemplates(w)];
  for (const m of c.volumeMounts ?? []) assert.ok(sources.includes(m.name), `mount ${m.name} names a volume`);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok((pod.securityContext.runAsUser ?? 0) > 0, 'a non-zero uid');
  assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(c.securityContext?.capabilities?.add, undefined);
  const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
  assert.ok(tmp, '/tmp is mounted');
  assert.ok(pod.volumes.find((v) => v.name === tmp.name)?.emptyDir, '/tmp is an emptyDir');
  assert.ok(c.resources?.requests?.memory && c.resources?.limits?.memory, 'memory request and limit');
  assert.equal(pod.serviceAccountName, only(objects, 'ServiceAccount').metadata.name);
}

describe('the Helm chart, rendered with text/template and sprig', { skip, timeout: 600_000 }, () => {
  it('renders a filesystem StatefulSet with one ReadWriteOnce volume by default', async () => {
    const objects = await render({});
    assert.deepEqual(kinds(objects), ['ConfigMap', 'Pod', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'ServiceAccount', 'StatefulSet']);
    const sts = only(objects, 'StatefulSet');
    assert.equal(sts.spec.replicas, 1);
    const [claim] = sts.spec.volumeClaimTemplates;
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
    assert.equal(claim.spec.resources.requests.storage, '20Gi');
    const headless = only(objects, 'Service', sts.spec.serviceName);
    assert.equal(headless.spec.clusterIP, 'None');
    const c = mainContainer(sts);
    const data = c.volumeMounts?.find((m) => m.name === claim.metadata.name);
    assert.ok(data, 'the claim is mounted');
    assertSelectorsMatch(objects);
    assertProbes(c);
    assertHardened(objects);
    const svc = only(objects, 'Service', sts.metadata.name);
    assert.equal(svc.spec.ports[0].targetPort, 'http');
    const pdb = only(objects, 'PodDisruptionBudget');
    assert.equal(pdb.spec.maxUnavailable, 1, 'a single replica still lets nodes drain');
    const { effective, leftOut } = await berthCheck(objects);
    assert.equal(effective.storage.filesystem.rootdirectory, data.mountPath, 'Berth stores on the mounted volume');
    assert.equal(effective.http.addr, `:${resolvePort(c, 'http')}`, 'Berth listens on the declared port');
    assert.ok(leftOut.includes('http.secret'), 'the upload secret reaches Berth from the Secret (set, and left out of what config check prints)');
  });

  it('renders S3 with 3 replicas, an HPA, an Ingress for streaming and a ServiceMonitor', async () => {
    const objects = await render(S3_VALUES, { apiVersions: ['monitoring.coreos.com/v1'] });
    assert.deepEqual(kinds(objects), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Pod', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    const deploy = only(objects, 'Deployment');
    assert.equal(deploy.spec.replicas, undefined, 'the HPA owns the replica count');
    const hpa = only(objects, 'HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deploy.metadata.name });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(deploy.spec.strategy.rollingUpdate.maxUnavailable, 0);
    assertSelectorsMatch(objects);
    assertProbes(mainContainer(deploy));
    assertHardened(objects);
    assert.ok(!mainContainer(deploy).volumeMounts?.some((m) => m.mountPath === '/var/lib/berth'), 'no volume for S3');

    const svc = only(objects, 'Service', deploy.metadata.name);
    const ingress = only(objects, 'Ingress');
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    assert.equal(backend.name, svc.metadata.name);
    assert.equal(backend.port.number, svc.spec.ports.find((p: { name: string }) => p.name === 'http').port);
    const a = ingress.metadata.annotations!;
    assert.equal(a['nginx.ingress.kubernetes.io/proxy-body-size'], '0');
    assert.equal(a['nginx.ingress.kubernetes.io/proxy-request-buffering'], 'off');
    assert.equal(a['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
    assert.equal(a['nginx.ingress.kubernetes.io/proxy-send-timeout'], '900');
    assert.equal(a['nginx.ingress.kubernetes.io/proxy-read-timeout'], '1800', 'the user annotation wins');
    assert.deepEqual(ingress.spec.tls, S3_VALUES.ingress.tls);

    const sm = only(objects, 'ServiceMonitor');
    const metricsSvc = only(objects, 'Service', `${deploy.metadata.name}-metrics`);
    const metricsPort = metricsSvc.spec.ports.find((p: { name: string }) => p.name === sm.spec.endpoints[0].port);
    assert.ok(metricsPort, 'the ServiceMonitor scrapes a named Service port');
    assert.ok(!svc.spec.ports.some((p: { name: string }) => p.name === 'metrics'), 'metrics stay off the registry Service');
    assert.equal(metricsPort.targetPort, 'metrics');
    assert.equal(resolvePort(mainContainer(deploy), 'metrics'), 5001);

    const env = resolveEnv(mainContainer(deploy), secretData(objects));
    assert.equal(env.REGISTRY_HTTP_SECRET, SECRET);
    assert.equal(env.REGISTRY_STORAGE_S3_ACCESSKEY, 'AKIDEXAMPLE');
    assert.equal(env.REGISTRY_STORAGE_S3_SECRETKEY, 'wJalrXUtnFEMI');
    const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
    assert.equal(config.storage.s3.bucket, 'registry');
    assert.equal(config.storage.s3.accesskey, undefined, 'credentials stay out of the ConfigMap');
    assert.equal(config.http.secret, undefined, 'the upload secret stays out of the ConfigMap');

    const effective = await berthAccepts(objects);
    assert.equal(effective.http.debug.addr, `:${metricsPort.port}`, 'Berth serves metrics where the Service sends scrapes');
    assert.equal(effective.storage.filesystem, undefined, 'S3 is the only driver configured');
    assert.equal(effective.storage.s3.regionendpoint, 'http://rgw.storage:7480');
    assert.equal(effective.storage.s3.forcepathstyle, true);
  });

  it('skips the ServiceMonitor and the metrics port unless metrics are enabled', async () => {
    const objects = await render({ metrics: { enabled: false, serviceMonitor: { enabled: false } } });
    assert.ok(!objects.some((o) => o.kind === 'ServiceMonitor'));
    assert.throws(() => resolvePort(mainContainer(workload(objects)), 'metrics'));
  });

  it('takes htpasswd users from an existing Secret and keeps a token signing key in its own', async () => {
    const objects = await render(HTPASSWD_VALUES);
    const w = workload(objects);
    const c = mainContainer(w);
    const users = podSpec(w).volumes.find((v) => v.secret?.secretName === 'registry-users');
    assert.ok(users, 'the existing Secret is mounted');
    assert.deepEqual(users.secret!.items, [{ key: 'users.htpasswd', path: 'users.htpasswd' }]);
    const mount = c.volumeMounts!.find((m) => m.name === users.name)!;
    assert.equal(mount.subPath, undefined, 'a directory mount, so Secret updates reach the file');
    assert.equal(mount.readOnly, true);
    assert.ok(!objects.some((o) => o.kind === 'Secret' && o.metadata.name === 'registry-users'), 'the chart never writes the users Secret');

    const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
    assert.equal(config.auth.htpasswd.path, `${mount.mountPath}/users.htpasswd`);
    const secrets = secretData(objects, { 'registry-users': { 'users.htpasswd': 'alice:$2y$05$abcdefghijklmnopqrstuu5P1u8/dAGBLvY3SiUTpUo6T0hH2vJxy\n' } });
    const key = mountedFile(w, objects, secrets, config.auth.token.server.key);
    const cert = mountedFile(w, objects, secrets, config.auth.token.server.certificate);
    assert.ok(new X509Certificate(cert).checkPrivateKey(createPrivateKey(key)), 'the generated key and certificate belong together');

    const effective = await berthAccepts(objects, { 'registry-users': { 'users.htpasswd': '' } });
    // config check leaves out secrets, never these sections (their names look like credentials): present is what it shows.
    assert.ok(effective.auth.htpasswd !== undefined && effective.auth.token !== undefined, JSON.stringify(effective.auth));
  });

  it('refuses an htpasswd auth without the Secret that holds the users', async () => {
    const result = await renderChart({ auth: { htpasswd: { enabled: true } } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /auth\.htpasswd\.existingSecret/);
  });

  it('keeps explicit secrets byte for byte; without a cluster it generates new ones on every render', async () => {
    const explicit = async () => secretData(await render({ httpSecret: { value: SECRET }, auth: { token: { enabled: true } } }));
    const [a, b] = [await explicit(), await explicit()];
    assert.equal(a.get('reg-berth-secret')!['http-secret'], SECRET);
    assert.deepEqual(a.get('reg-berth-secret'), b.get('reg-berth-secret'));
    // Without a cluster, lookup finds nothing: each render generates anew (docs/helm.md says to set them for GitOps).
    assert.notEqual(a.get('reg-berth-token')!['token.key'], b.get('reg-berth-token')!['token.key']);
    const existing = await render({ httpSecret: { existingSecret: 'mine', existingSecretKey: 'upload' } });
    const env = mainContainer(workload(existing)).env!.find((e) => e.name === 'REGISTRY_HTTP_SECRET')!;
    assert.deepEqual(env.valueFrom!.secretKeyRef, { name: 'mine', key: 'upload' });
    assert.ok(!existing.some((o) => o.kind === 'Secret'), 'no Secret rendered when every secret exists already');
  });

  it('shares one ReadWriteMany claim between replicas of a Deployment', async () => {
    const objects = await render({ replicaCount: 2, persistence: { accessMode: 'ReadWriteMany' }, httpSecret: { value: SECRET } });
    const deploy = only(objects, 'Deployment');
    assert.equal(deploy.spec.replicas, 2);
    const pvc = only(objects, 'PersistentVolumeClaim');
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany']);
    assert.equal(pvc.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    assert.ok(podSpec(deploy).volumes.some((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name));
    await berthAccepts(objects);
  });

  it('renders notifications into the config, with header values from existing Secrets through the environment', async () => {
    const plain = await render({
      notifications: {
        endpoints: [{ name: 'audit', url: 'http://audit.tools:5050/events', maxattempts: 5, ignore: { actions: ['pull', 'gc.delete'] } }],
        events: { includereferences: true },
        backlog: { maxevents: 5000, full: 'refuse' },
        takeover: '30s',
      },
    });
    const config = parse(only(plain, 'ConfigMap').data['config.yml']) as Record<string, any>;
    assert.deepEqual(config.notifications.endpoints, [{ name: 'audit', url: 'http://audit.tools:5050/events', maxattempts: 5, ignore: { actions: ['pull', 'gc.delete'] } }]);
    const effective = await berthAccepts(plain);
    assert.deepEqual(effective.notifications.backlog, { maxevents: 5000, full: 'refuse' });
    assert.equal(effective.notifications.takeover, 30_000);
    assert.equal(effective.notifications.events.includereferences, true);
    assert.equal(effective.notifications.endpoints[0].maxattempts, 5);
    assert.deepEqual(effective.notifications.endpoints[0].ignore.actions, ['pull', 'gc.delete']);

    const WEBHOOK = { 'ci-webhook': { authorization: 'Bearer from-the-secret' } };
    const objects = await render({
      notifications: {
        endpoints: [
          { name: 'ci', url: 'https://ci.example.com/events', headers: { 'X-Source': ['berth'] }, secretHeaders: [{ name: 'Authorization', existingSecret: 'ci-webhook', key: 'authorization' }] },
          { name: 'audit', url: 'http://audit.tools:5050/events' },
        ],
      },
    });
    assert.ok(!objects.some((o) => o.kind === 'Secret' && o.metadata.name === 'ci-webhook'), 'the chart never writes the header Secret');
    const c = mainContainer(workload(objects));
    assert.deepEqual(c.env!.find((e) => e.valueFrom?.secretKeyRef?.name === 'ci-webhook')?.valueFrom?.secretKeyRef, { name: 'ci-webhook', key: 'authorization' });
    const env = resolveEnv(c, secretData(objects, WEBHOOK));
    const endpoints = JSON.parse(env.REGISTRY_NOTIFICATIONS_ENDPOINTS) as Array<Record<string, unknown>>;
    assert.deepEqual(endpoints[0].headers, { 'X-Source': ['berth'], Authorization: ['Bearer from-the-secret'] });
    assert.deepEqual(
      endpoints.map((e) => e.name),
      ['ci', 'audit'],
    );
    const withSecret = await berthAccepts(objects, WEBHOOK);
    assert.deepEqual(
      withSecret.notifications.endpoints.map((e: { name: string }) => e.name),
      ['ci', 'audit'],
    );
    assert.doesNotMatch(JSON.stringify(withSecret), /from-the-secret/, 'config check redacts the header');
  });

  describe('values.schema.json', () => {
    const refused = assertSchemaRefuses;

    it('refuses 2 replicas on a ReadWriteOnce volume', () => refused({ replicaCount: 2, httpSecret: { value: SECRET } }, /replicaCount: Must be less than or equal to 1/));
    it('refuses autoscaling on a ReadWriteOnce volume', () => refused({ autoscaling: { enabled: true }, httpSecret: { value: SECRET } }, /autoscaling\.enabled/));
    it('refuses 2 replicas on ReadWriteOncePod, and without persistence', async () => {
      await refused({ replicaCount: 2, persistence: { accessMode: 'ReadWriteOncePod' }, httpSecret: { value: SECRET } }, /replicaCount/);
      await refused({ replicaCount: 2, persistence: { enabled: false }, httpSecret: { value: SECRET } }, /replicaCount/);
    });
    it('refuses several replicas without an explicit shared upload secret', async () => {
      await refused({ ...S3_VALUES, httpSecret: { value: '' } }, /httpSecret/);
      await refused({ replicaCount: 2, persistence: { accessMode: 'ReadWriteMany' } }, /httpSecret/);
    });
    it('refuses S3 without a bucket, short secrets and unknown keys', async () => {
      await refused({ storage: { type: 's3' } }, /bucket/);
      await refused({ httpSecret: { value: 'short' } }, /httpSecret\.value/);
      await refused({ replicas: 2 }, /replicas/);
      await refused({ persistence: { accessMode: 'ReadWriteSometimes' } }, /accessMode/);
    });
    it('refuses a notification endpoint without a url, and a Secret header without its Secret', async () => {
      await refused({ notifications: { endpoints: [{ name: 'ci' }] } }, /url/);
      await refused({ notifications: { endpoints: [{ name: 'ci', url: 'http://ci/events', secretHeaders: [{ name: 'Authorization', key: 'token' }] }] } }, /existingSecret/);
      await refused({ notifications: { backlog: { full: 'drop' } } }, /full/);
    });
    it('accepts one replica on ReadWriteOnce and several on S3 with a secret', async () => {
      assert.equal((await renderChart({})).code, 0);
      const s3 = await renderChart({ ...S3_VALUES, autoscaling: { enabled: false } });
      assert.equal(s3.code, 0, s3.stderr);
      assert.equal(only(s3.objects, 'Deployment').spec.replicas, 3);
    });
  });
});

describe('the Helm chart with Berth serving TLS', { skip, timeout: 120_000 }, () => {
  /** What the probes and the TLS mount of a rendered pod look like, whatever kind of probe it is. */
  type AnyProbe = { httpGet?: { path: string; port: string; scheme?: string }; tcpSocket?: { port: string } };
  const TLS_SECRET = { 'registry-tls': { 'tls.crt': 'certificate', 'tls.key': 'key', 'ca.crt': 'client ca' } };

  it('mounts the TLS Secret as a directory, points http.tls at it and probes over HTTPS', async () => {
    const objects = await render({ tls: { enabled: true, existingSecret: 'registry-tls' } });
    const w = workload(objects);
    const c = mainContainer(w);
    const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
    const secrets = secretData(objects, TLS_SECRET);
    assert.equal(mountedFile(w, objects, secrets, config.http.tls.certificate), 'certificate');
    assert.equal(mountedFile(w, objects, secrets, config.http.tls.key), 'key');
    assert.equal(config.http.tls.clientcas, undefined);
    const mount = c.volumeMounts!.find((m) => config.http.tls.certificate.startsWith(m.mountPath + '/'))!;
    assert.equal(mount.subPath, undefined, 'a directory mount, so a renewed certificate reaches the pod');
    assert.equal(mount.readOnly, true);
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe] as unknown as AnyProbe[]) {
      assert.equal(probe.httpGet?.scheme, 'HTTPS');
      assert.equal(probe.httpGet?.port, 'http');
    }
    const effective = await berthAccepts(objects, TLS_SECRET);
    assert.equal(effective.http.tls.certificate, config.http.tls.certificate);
  });

  it('with a client CA key: mutual TLS from the same Secret, and TCP probes (the kubelet has no client certificate)', async () => {
    const refused = await renderChart({ tls: { enabled: true, existingSecret: 'registry-tls', clientCAKey: 'ca.crt' } });
    assert.notEqual(refused.code, 0, 'the helm test client has no client certificate');
    assert.match(refused.stderr, /tests\.clientCertSecret/);
    assert.match(refused.stderr, /set tests\.enabled=false/);
    const objects = await render({ tls: { enabled: true, existingSecret: 'registry-tls', clientCAKey: 'ca.crt' }, tests: { enabled: false } });
    const w = workload(objects);
    const c = mainContainer(w);
    const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
    const secrets = secretData(objects, TLS_SECRET);
    assert.equal(config.http.tls.clientcas.length, 1);
    assert.equal(mountedFile(w, objects, secrets, config.http.tls.clientcas[0]), 'client ca');
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe] as unknown as AnyProbe[]) {
      assert.equal(probe.httpGet, undefined);
      assert.deepEqual(probe.tcpSocket, { port: 'http' });
    }
    await berthAccepts(objects, TLS_SECRET);
  });

  it('under mutual TLS the helm test pod presents the client pair of tests.clientCertSecret', async () => {
    const objects = await render({ tls: { enabled: true, existingSecret: 'registry-tls', clientCAKey: 'ca.crt' }, tests: { clientCertSecret: 'helm-test-client' } });
    const hook = only(objects, 'Pod');
    const c = mainContainer(hook, 'push-pull');
    const env = resolveEnv(c, secretData(objects));
    const secrets = secretData(objects, { ...TLS_SECRET, 'helm-test-client': { 'tls.crt': 'client certificate', 'tls.key': 'client key', 'ca.crt': 'not mounted' } });
    assert.equal(mountedFile(hook, objects, secrets, env.BERTH_TEST_CLIENT_CERT, c), 'client certificate');
    assert.equal(mountedFile(hook, objects, secrets, env.BERTH_TEST_CLIENT_KEY, c), 'client key');
    assert.deepEqual(podSpec(hook).volumes.find((v) => v.secret?.secretName === 'helm-test-client')?.secret?.items?.map((i) => i.key), ['tls.crt', 'tls.key']);
    assert.ok(c.volumeMounts!.every((m) => m.readOnly), 'the pair is mounted read-only');
    await berthAccepts(objects, TLS_SECRET);
    const plain = await renderChart({ tests: { clientCertSecret: 'helm-test-client' } });
    assert.notEqual(plain.code, 0, 'a client pair is for a registry serving TLS');
    assert.match(plain.stderr, /tests\.clientCertSecret needs tls\.enabled/);
  });

  it('tls.clientIdentity names the user from the client certificate (http.tls.clientidentity); refused without mutual TLS or htpasswd', async () => {
    const mutual = { enabled: true, existingSecret: 'registry-tls', clientCAKey: 'ca.crt' };
    const users = { htpasswd: { enabled: true, existingSecret: 'registry-users' } };
    const objects = await render({ tls: { ...mutual, clientIdentity: 'san-dns' }, auth: users, tests: { enabled: false } });
    const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
    assert.equal(config.http.tls.clientidentity, 'san-dns');
    const effective = await berthAccepts(objects, { ...TLS_SECRET, 'registry-users': { htpasswd: '' } });
    assert.equal(effective.http.tls.clientidentity, 'san-dns');
    assert.equal(parse(only(await render({ tls: mutual, tests: { enabled: false } }), 'ConfigMap').data['config.yml']).http.tls.clientidentity, undefined);
    const noCa = await renderChart({ tls: { enabled: true, existingSecret: 'registry-tls', clientIdentity: 'cn' }, auth: users });
    assert.notEqual(noCa.code, 0);
    assert.match(noCa.stderr, /tls\.clientIdentity needs tls\.clientCAKey/);
    const noUsers = await renderChart({ tls: { ...mutual, clientIdentity: 'cn' }, tests: { enabled: false } });
    assert.notEqual(noUsers.code, 0);
    assert.match(noUsers.stderr, /tls\.clientIdentity needs auth\.htpasswd/);
    const unknown = await renderChart({ tls: { ...mutual, clientIdentity: 'subject' }, auth: users, tests: { enabled: false } });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /clientIdentity/);
  });

  it('tls.http2: false offers HTTP/1.1 only (http.http2.disabled); refused without TLS, where there is no HTTP/2', async () => {
    const objects = await render({ tls: { enabled: true, existingSecret: 'registry-tls', http2: false } });
    const config = parse(only(objects, 'ConfigMap').data['config.yml']) as Record<string, any>;
    assert.deepEqual(config.http.http2, { disabled: true });
    assert.equal((await berthAccepts(objects, TLS_SECRET)).http.http2.disabled, true);
    const on = parse(only(await render({ tls: { enabled: true, existingSecret: 'registry-tls' } }), 'ConfigMap').data['config.yml']) as Record<string, any>;
    assert.equal(on.http.http2, undefined, 'HTTP/2 stays on by default');
    const plain = await renderChart({ tls: { http2: false } });
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /tls\.http2 needs tls\.enabled/);
  });

  it('refuses TLS without the Secret that holds the pair', async () => {
    const result = await renderChart({ tls: { enabled: true } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /tls\.existingSecret/);
  });
});
