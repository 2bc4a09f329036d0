import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';

/** A file's text, or undefined when it cannot be read (not Linux, no cgroup mount, no such controller). */
export type ReadText = (file: string) => Promise<string | undefined>;

export const readText: ReadText = (file) => readFile(file, 'utf8').catch(() => undefined);

const CGROUP_ROOT = '/sys/fs/cgroup';
/** Where distributions mount cgroup v1's cpu controller (joined with cpuacct, or alone). */
const V1_CPU_ROOTS = [`${CGROUP_ROOT}/cpu,cpuacct`, `${CGROUP_ROOT}/cpu`];

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isInteger(q) || !Number.isInteger(p) || q <= 0 || p <= 0) return undefined;
  return q / p;
}

/** The process's cgroup paths: v2's (`0::/path`) and v1's cpu controller's (`N:cpu,cpuacct:/path`). */
function ownCgroups(text: string): { v2: string; v1: string } {
  const own = { v2: '/', v1: '/' };
  for (const line of text.split('\n')) {
    const [id, controllers, ...rest] = line.split(':');
    const where = rest.join(':');
    if (!where.startsWith('/')) continue;
    if (id === '0' && controllers === '') own.v2 = where;
    else if (controllers?.split(',').includes('cpu')) own.v1 = where;
  }
  return own;
}

/**
 * The process's cgroup directory under `root`, then each parent up to `root`. A limit set on a
 * parent (a Kubernetes pod, a systemd slice) binds too; and in a container without its own cgroup
 * namespace the path names the host's hierarchy, which does not exist under the container's mount,
 * so its root (the container's own cgroup) is what answers.
 */
function upToRoot(root: string, own: string): string[] {
  const dirs: string[] = [];
  for (let rel = path.posix.normalize(own); ; rel = path.posix.dirname(rel)) {
    dirs.push(rel === '/' ? root : path.posix.join(root, rel));
    if (rel === '/' || rel === '.') return dirs;
  }
}

/**
 * The CPU time the process's cgroups allow, in CPUs (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us /
 * cpu.cfs_period_us`, the tightest on the way to the root), or undefined when none is set. This
 * is what a Kubernetes CPU limit or `docker run --cpus` sets; the affinity mask that
 * `os.availableParallelism()` reads on Node 20 does not see it.
 */
export async function cgroupCpuLimit(read: ReadText = readText): Promise<number | undefined> {
  const own = ownCgroups((await read('/proc/self/cgroup')) ?? '');
  const limits: number[] = [];
  for (const dir of upToRoot(CGROUP_ROOT, own.v2)) {
    const [quota, period] = ((await read(`${dir}/cpu.max`)) ?? '').trim().split(/\s+/);
    // "max 100000" is no limit; ratio() refuses "max".
    const cpus = ratio(quota, period);
    if (cpus !== undefined) limits.push(cpus);
  }
  for (const root of V1_CPU_ROOTS)
    for (const dir of upToRoot(root, own.v1)) {
      // A quota of -1 is no limit; ratio() refuses it.
      const cpus = ratio((await read(`${dir}/cpu.cfs_quota_us`))?.trim(), (await read(`${dir}/cpu.cfs_period_us`))?.trim());
      if (cpus !== undefined) limits.push(cpus);
    }
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/**
 * `http.workers`' default: the CPUs the process may run on, or fewer under a CPU quota, rounded up
 * (1.5 CPUs of quota still gives two workers something to do while one waits on I/O); at least 1.
 */
export async function defaultWorkers(read: ReadText = readText, parallelism = availableParallelism()): Promise<number> {
  const limit = await cgroupCpuLimit(read);
  return Math.max(1, limit === undefined ? parallelism : Math.min(parallelism, Math.ceil(limit)));
}
