import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertValidObjects, importEsm, schemaProblems } from './helm-render/k8s-schema';
import { workload } from './helm-render/pod-spec';
import { only, render, rendererPrerequisites, type K8sObject } from './helm-render/render';

const skip = rendererPrerequisites();
const SECRET = 'a-shared-upload-secret-0123456789';
const S3 = { type: 's3', s3: { bucket: 'registry', regionendpoint: 'http://rgw.storage:7480', forcepathstyle: true, accessKey: 'AKIDEXAMPLE', secretKey: 'wJalrXUtnFEMI' } };
const MONITORING = ['monitoring.coreos.com/v1'];

/** Value sets covering every template and every optional block in them. */
const MATRIX: { name: string; values: Record<string, unknown>; apiVersions?: string[] }[] = [
  { name: 'filesystem (defaults)', values: {} },
  { name: 'filesystem without persistence', values: { persistence: { enabled: false }, tests: { enabled: false }, podDisruptionBudget: { enabled: false } } },
  { name: 'filesystem on ReadWriteMany, 2 replicas', values: { replicaCount: 2, persistence: { accessMode: 'ReadWriteMany', storageClass: 'cephfs' }, httpSecret: { value: SECRET } } },
  { name: 'S3 with 3 replicas', values: { replicaCount: 3, storage: S3, httpSecret: { value: SECRET } } },
  { name: 'S3 from an existing Secret', values: { storage: { ...S3, s3: { ...S3.s3, accessKey: '', secretKey: '', existingSecret: 'berth-s3' } }, httpSecret: { existingSecret: 'upload' } } },
  {
    name: 'token auth',
    values: {
      auth: {
        htpasswd: { enabled: true, existingSecret: 'registry-users' },
        token: { enabled: true, realm: 'https://registry.example.com/auth/token' },
        accesscontrol: { repositories: { '**': { policies: [{ users: ['alice'], actions: ['pull', 'push', 'delete'] }] } } },
      },
      tests: { credentials: { existingSecret: 'registry-test-user' } },
    },
  },
  {
    name: 'ingress with TLS',
    values: {
      ingress: { enabled: true, className: 'nginx', hosts: [{ host: 'registry.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }], tls: [{ secretName: 'registry-tls', hosts: ['registry.example.com'] }] },
    },
  },
  { name: 'HPA', values: { storage: S3, httpSecret: { value: SECRET }, autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 8, targetMemoryUtilizationPercentage: 80 } } },
  { name: 'ServiceMonitor', values: { service: { type: 'LoadBalancer' }, metrics: { enabled: true, service: { annotations: { a: 'b' } }, serviceMonitor: { enabled: true, labels: { release: 'prom' } } } }, apiVersions: MONITORING },
  {
    name: 'NetworkPolicy on',
    values: {
      metrics: { enabled: true },
      networkPolicy: {
        enabled: true,
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
        metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }, { to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 7480, protocol: 'TCP' }] }],
      },
    },
  },
  {
    name: 'mutual TLS, certificate users, the test hook with a client pair',
    values: {
      tls: { enabled: true, existingSecret: 'registry-tls', clientCAKey: 'ca.crt', clientIdentity: 'cn', http2: false },
      auth: { htpasswd: { enabled: true, existingSecret: 'registry-users' } },
      tests: { clientCertSecret: 'helm-test-client' },
    },
  },
  { name: 'test hook with htpasswd credentials in the chart Secret', values: { auth: { htpasswd: { enabled: true, existingSecret: 'registry-users' } }, tests: { credentials: { username: 'alice', password: 'alice-password' } } } },
  {
    name: 'extra volumes, init containers, sidecars, a digest',
    values: {
      image: { digest: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' },
      extraEnv: [{ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/ssl/corp/ca.crt' }],
      extraVolumes: [{ name: 'ca', configMap: { name: 'corp-ca' } }],
      extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/corp', readOnly: true }],
      initContainers: [{ name: 'wait', image: 'busybox:1.36', command: ['true'] }],
      sidecars: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.31', ports: [{ name: 'admin', containerPort: 9901 }] }],
      podAnnotations: { team: 'registry' },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'x' } } }],
    },
  },
];

describe('every rendered manifest against the Kubernetes API schemas (kubernetes-models, strict)', { skip, timeout: 600_000 }, () => {
  const validated = new Set<string>();
  for (const { name, values, apiVersions } of MATRIX)
    it(name, async () => {
      const objects = await render(values, { apiVersions });
      await assertValidObjects(objects);
      for (const o of objects) validated.add(`${o.apiVersion} ${o.kind}`);
    });

  it('covered every kind the chart renders', () => {
    assert.deepEqual([...validated].sort(), [
      'apps/v1 Deployment',
      'apps/v1 StatefulSet',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'networking.k8s.io/v1 Ingress',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 PersistentVolumeClaim',
      'v1 Pod',
      'v1 Secret',
      'v1 Service',
      'v1 ServiceAccount',
    ]);
  });
});

describe('the strict check itself', { skip, timeout: 120_000 }, () => {
  const deploymentWith = async (change: (d: K8sObject) => void): Promise<K8sObject> => {
    const d = structuredClone(workload(await render({ storage: S3, httpSecret: { value: SECRET } })));
    change(d);
    return d;
  };

  it('refuses a misspelled field that kubernetes-models alone lets through', async () => {
    const d = await deploymentWith((o) => {
      const c = o.spec.template.spec.containers[0];
      c.livenesProbe = c.livenessProbe;
      delete c.livenessProbe;
    });
    const { Deployment } = (await importEsm('kubernetes-models/apps/v1')) as { Deployment: new (d: unknown) => { validate(): void } };
    assert.doesNotThrow(() => new Deployment(d).validate(), 'kubernetes-models accepts unknown fields, hence the strict walk');
    assert.deepEqual(await schemaProblems(d), [`Deployment/${d.metadata.name}: /spec/template/spec/containers/0/livenesProbe is not a field of apps/v1 Deployment`]);
  });

  it('refuses misspellings at any depth, in maps of objects and in a CRD', async () => {
    const d = await deploymentWith((o) => {
      o.spec.template.spec.securityContext.seccompProfile.tpye = 'RuntimeDefault';
      o.spec.template.spec.volumes[0].configMap.nmae = 'x';
      o.spec.strategy.rollingUpdate.maxSurges = 1;
    });
    const problems = await schemaProblems(d);
    assert.equal(problems.length, 3, problems.join('\n'));
    for (const field of ['seccompProfile/tpye', 'volumes/0/configMap/nmae', 'rollingUpdate/maxSurges']) assert.ok(problems.some((p) => p.includes(`/${field} is not a field`)), field);

    const sm = only(await render({ metrics: { enabled: true, serviceMonitor: { enabled: true } } }, { apiVersions: MONITORING }), 'ServiceMonitor');
    sm.spec.endpoints[0].scrapeTimout = sm.spec.endpoints[0].scrapeTimeout;
    assert.deepEqual(await schemaProblems(sm), [`ServiceMonitor/${sm.metadata.name}: /spec/endpoints/0/scrapeTimout is not a field of monitoring.coreos.com/v1 ServiceMonitor`]);
  });

  it('accepts any key in map fields (labels, annotations, data) and refuses wrong types and enums', async () => {
    const d = await deploymentWith((o) => {
      o.metadata.labels!['example.com/anything'] = 'yes';
      o.spec.replicas = '3';
      o.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
      o.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    });
    const problems = await schemaProblems(d);
    assert.ok(!problems.some((p) => p.includes('example.com')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/spec/replicas must be integer')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/imagePullPolicy must be equal to one of the allowed values')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('/containerPort must be integer')), problems.join('\n'));
  });

  it('refuses a kind it has no schema for', async () => {
    await assert.rejects(schemaProblems({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }), /no schema for example\.com\/v1/);
  });
});
