import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { claimTemplates, mainContainer, podSpec, resolveEnv, volumeFiles, type SecurityContext } from './pod-spec';
import type { K8sObject } from './render';

export interface DockerRunOptions {
  name: string;
  /** Directory for projected ConfigMap/Secret files and the env file; the caller removes it. */
  filesDir: string;
  /** Docker volume standing in for the PersistentVolumeClaim (or claim template) mounts. */
  dataVolume: string;
  secrets: Map<string, Record<string, string>>;
  /** The container to run (default: Berth's). */
  container?: string;
  /** host:ip entries for names the pod would resolve through cluster DNS (a Service). */
  addHosts?: string[];
}

// Kubernetes quantities to docker's units (binary suffixes only; the chart uses nothing else).
function memory(quantity: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) throw new Error(`unsupported memory quantity ${quantity}`);
  return `${m[1]}${({ Ki: 'k', Mi: 'm', Gi: 'g' } as Record<string, string>)[m[2] ?? ''] ?? 'b'}`;
}

// A Kubernetes CPU quantity ("2", "1.5", "500m") to docker's --cpus, which sets the same CFS quota.
function cpus(quantity: string | number): string {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity));
  if (!m) throw new Error(`unsupported CPU quantity ${quantity}`);
  return String(Number(m[1]) / (m[2] ? 1000 : 1));
}

/**
 * `docker run` arguments that reproduce the rendered pod's main container as the kubelet would run
 * it: its image, command and args, environment (Secrets resolved), user and groups, read-only root
 * with the declared volumes, dropped capabilities, no privilege escalation and its memory and CPU limits.
 * The network is the host's (the probes reach the declared port on loopback).
 */
export async function dockerRunArgs(w: K8sObject, objects: K8sObject[], opts: DockerRunOptions): Promise<string[]> {
  const pod = podSpec(w);
  const c = mainContainer(w, opts.container);
  const sc: SecurityContext = { ...pod.securityContext, ...c.securityContext };
  const args = ['run', '-d', '--name', opts.name, '--network', 'host'];
  for (const host of opts.addHosts ?? []) args.push('--add-host', host);

  if (sc.runAsUser === undefined) throw new Error('the spec names no user: the image would decide');
  if (sc.runAsNonRoot && sc.runAsUser === 0) throw new Error('runAsNonRoot with uid 0 would not start');
  args.push('--user', `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  if (pod.securityContext.fsGroup !== undefined) args.push('--group-add', String(pod.securityContext.fsGroup));
  if (sc.readOnlyRootFilesystem) args.push('--read-only');
  for (const cap of sc.capabilities?.drop ?? []) args.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) args.push('--cap-add', cap);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  if (sc.privileged) args.push('--privileged');
  // seccomp RuntimeDefault is what docker applies unless told otherwise.
  if (sc.seccompProfile && sc.seccompProfile.type !== 'RuntimeDefault') throw new Error(`unsupported seccomp profile ${sc.seccompProfile.type}`);
  if (c.resources?.limits?.memory) args.push('--memory', memory(c.resources.limits.memory));
  if (c.resources?.limits?.cpu !== undefined) args.push('--cpus', cpus(c.resources.limits.cpu));

  await chmod(opts.filesDir, 0o755);
  const envFile = path.join(opts.filesDir, 'env');
  const env = resolveEnv(c, opts.secrets);
  for (const [k, v] of Object.entries(env)) if (v.includes('\n')) throw new Error(`env ${k} spans lines`);
  await writeFile(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  args.push('--env-file', envFile);

  for (const m of c.volumeMounts ?? []) {
    const volume = (pod.volumes ?? []).find((v) => v.name === m.name);
    if (!volume) {
      if (!claimTemplates(w).includes(m.name)) throw new Error(`mount ${m.name} names no volume`);
      args.push('--mount', `type=volume,source=${opts.dataVolume},target=${m.mountPath}`);
      continue;
    }
    if (volume.persistentVolumeClaim) {
      args.push('--mount', `type=volume,source=${opts.dataVolume},target=${m.mountPath}`);
      continue;
    }
    if (volume.emptyDir) {
      const size = volume.emptyDir.sizeLimit ? `,size=${memory(volume.emptyDir.sizeLimit)}` : '';
      args.push('--tmpfs', `${m.mountPath}:rw,nosuid,nodev,mode=1777${size}`);
      continue;
    }
    const files = volumeFiles(volume, objects, opts.secrets);
    if (!files) throw new Error(`volume ${volume.name}: unsupported source`);
    // Projected files are world-readable (the kubelet's default mode 0644) in a directory per volume.
    const dir = path.join(opts.filesDir, `volume-${volume.name}`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text, { mode: 0o644 });
    const source = m.subPath !== undefined ? path.join(dir, m.subPath) : dir;
    args.push('--mount', `type=bind,source=${source},target=${m.mountPath}${m.readOnly ? ',readonly' : ''}`);
  }

  args.push(...(c.command?.length ? ['--entrypoint', c.command[0]] : []), c.image, ...(c.command?.slice(1) ?? []), ...(c.args ?? []));
  return args;
}
