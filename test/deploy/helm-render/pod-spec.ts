import type { K8sObject } from './render';

/** The parts of a rendered pod spec the tests read. */
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: Record<string, unknown> };
  securityContext?: SecurityContext;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}
export interface Probe {
  httpGet: { path: string; port: string | number };
  initialDelaySeconds?: number;
  periodSeconds: number;
  failureThreshold: number;
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
export interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  emptyDir?: { sizeLimit?: string };
  persistentVolumeClaim?: { claimName: string };
}
export interface PodSpec {
  containers: Container[];
  volumes: Volume[];
  securityContext: SecurityContext;
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
}

export function workload(objects: K8sObject[]): K8sObject {
  const found = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
  if (found.length !== 1) throw new Error(`expected one workload, found ${found.length}`);
  return found[0];
}

/** The pod spec of a workload's template, or of a bare Pod (the helm test hook). */
export function podSpec(w: K8sObject): PodSpec {
  return (w.kind === 'Pod' ? w.spec : w.spec.template.spec) as PodSpec;
}

export function mainContainer(w: K8sObject, name = 'berth'): Container {
  const c = podSpec(w).containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container named ${name}`);
  return c;
}

/** The container's port number a probe or Service names (by name or number). */
export function resolvePort(c: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const found = c.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`container has no port named ${port}`);
  return found.containerPort;
}

/** Every Secret's data, decoded: rendered ones plus `extra` (those the cluster already holds). */
export function secretData(objects: K8sObject[], extra: Record<string, Record<string, string>> = {}): Map<string, Record<string, string>> {
  const secrets = new Map<string, Record<string, string>>(Object.entries(extra));
  for (const o of objects.filter((x) => x.kind === 'Secret')) {
    const decoded: Record<string, string> = {};
    for (const [k, v] of Object.entries((o.data ?? {}) as Record<string, string>)) decoded[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const [k, v] of Object.entries((o.stringData ?? {}) as Record<string, string>)) decoded[k] = v;
    secrets.set(o.metadata.name, decoded);
  }
  return secrets;
}

/** The container's environment as the kubelet would set it, $(NAME) references expanded; a reference to a missing Secret key throws. */
export function resolveEnv(c: Container, secrets: Map<string, Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    // The kubelet expands $(NAME) of a variable set earlier in the list; $$ stands for a literal $.
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name?: string) => (name === undefined ? '$' : (env[name] ?? m)));
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const value = secrets.get(name)?.[key];
      if (value === undefined) throw new Error(`env ${e.name}: Secret ${name} has no key ${key}`);
      env[e.name] = value;
    } else throw new Error(`env ${e.name}: unsupported source`);
  }
  return env;
}

/** The files a volume projects into the container, by relative path. */
export function volumeFiles(v: Volume, objects: K8sObject[], secrets: Map<string, Record<string, string>>): Record<string, string> | undefined {
  if (v.configMap) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap!.name);
    if (!cm) throw new Error(`volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    return { ...(cm.data as Record<string, string>) };
  }
  if (v.secret) {
    const data = secrets.get(v.secret.secretName);
    if (!data) throw new Error(`volume ${v.name}: no Secret ${v.secret.secretName}`);
    if (!v.secret.items) return { ...data };
    const files: Record<string, string> = {};
    for (const item of v.secret.items) {
      if (data[item.key] === undefined) throw new Error(`volume ${v.name}: Secret ${v.secret.secretName} has no key ${item.key}`);
      files[item.path] = data[item.key];
    }
    return files;
  }
  return undefined;
}

/** Names of a StatefulSet's per-pod volume claims. */
export function claimTemplates(w: K8sObject): string[] {
  return ((w.spec.volumeClaimTemplates ?? []) as K8sObject[]).map((t) => t.metadata.name);
}

/** The text of the file mounted at `mountPath` in `c` (a subPath of a ConfigMap or Secret volume, or a file in one). */
export function mountedFile(w: K8sObject, objects: K8sObject[], secrets: Map<string, Record<string, string>>, mountPath: string, c: Container = mainContainer(w)): string {
  for (const m of c.volumeMounts ?? []) {
    const volume = podSpec(w).volumes.find((v) => v.name === m.name);
    if (!volume) {
      if (claimTemplates(w).includes(m.name)) continue;
      throw new Error(`mount ${m.name} names no volume`);
    }
    const files = volumeFiles(volume, objects, secrets);
    if (!files) continue;
    if (m.subPath !== undefined && m.mountPath === mountPath && files[m.subPath] !== undefined) return files[m.subPath];
    if (m.subPath === undefined && mountPath.startsWith(m.mountPath + '/')) {
      const rel = mountPath.slice(m.mountPath.length + 1);
      if (files[rel] !== undefined) return files[rel];
    }
  }
  throw new Error(`nothing is mounted at ${mountPath}`);
}

/** The value following `--config` (or `-c`) in the container's arguments. */
export function configPathFromArgs(c: Container): string {
  const args = c.args ?? [];
  const i = args.findIndex((a) => a === '--config' || a === '-c');
  if (i < 0 || i + 1 >= args.length) throw new Error(`no --config in args ${JSON.stringify(args)}`);
  return args[i + 1];
}
