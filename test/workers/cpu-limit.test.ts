import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cgroupCpuLimit, defaultWorkers, type ReadText } from '../../src/config/cpu-limit';
import { loadConfig } from '../../src/config/load';

/** A read-only file system of fixtures: a path not listed does not exist. */
function files(fixtures: Record<string, string>): ReadText {
  return (file) => Promise.resolve(fixtures[file]);
}

const V2_SELF = '0::/kubepods/pod1/c1\n';
const V1_SELF = '12:memory:/docker/c1\n4:cpu,cpuacct:/docker/c1\n0::/\n';

describe('the CPU limit of a cgroup', () => {
  test('cgroup v2 "max 100000" is no limit', async () => {
    const read = files({ '/proc/self/cgroup': V2_SELF, '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000\n' });
    assert.equal(await cgroupCpuLimit(read), undefined);
  });

  test('cgroup v2 "150000 100000" is 1.5 CPUs', async () => {
    const read = files({ '/proc/self/cgroup': V2_SELF, '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': '150000 100000\n' });
    assert.equal(await cgroupCpuLimit(read), 1.5);
  });

  test('cgroup v2: the tightest limit on the way to the root wins (a pod limit above a container without one)', async () => {
    const read = files({
      '/proc/self/cgroup': V2_SELF,
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
    });
    assert.equal(await cgroupCpuLimit(read), 3);
  });

  test('cgroup v2 in its own namespace ("0::/"): the root of the mount is the container', async () => {
    const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '200000 100000\n' });
    assert.equal(await cgroupCpuLimit(read), 2);
  });

  test('cgroup v1: cfs_quota_us / cfs_period_us, -1 being no limit', async () => {
    const limited = files({
      '/proc/self/cgroup': V1_SELF,
      '/sys/fs/cgroup/cpu,cpuacct/docker/c1/cpu.cfs_quota_us': '250000\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/c1/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(await cgroupCpuLimit(limited), 2.5);
    const unlimited = files({
      '/proc/self/cgroup': V1_SELF,
      '/sys/fs/cgroup/cpu,cpuacct/docker/c1/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/c1/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(await cgroupCpuLimit(unlimited), undefined);
  });

  test('cgroup v1 with the host path in /proc/self/cgroup but the container mounted at the root', async () => {
    const read = files({
      '/proc/self/cgroup': '3:cpu:/docker/c1\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(await cgroupCpuLimit(read), 0.5);
  });

  test('missing files (not Linux, no cgroup mount) and garbage are no limit', async () => {
    assert.equal(await cgroupCpuLimit(files({})), undefined);
    const garbage = files({ '/proc/self/cgroup': 'nonsense', '/sys/fs/cgroup/cpu.max': 'lots of CPUs', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000' });
    assert.equal(await cgroupCpuLimit(garbage), undefined);
  });
});

describe('the default worker count', () => {
  const quota = (text: string) => files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': text });

  test('is the CPUs available when no quota is set', async () => {
    assert.equal(await defaultWorkers(files({}), 8), 8);
    assert.equal(await defaultWorkers(quota('max 100000'), 8), 8);
  });

  test('follows a quota below them, rounded up', async () => {
    assert.equal(await defaultWorkers(quota('150000 100000'), 8), 2);
    assert.equal(await defaultWorkers(quota('200000 100000'), 8), 2);
  });

  test('is never more than the CPUs available, nor less than 1', async () => {
    assert.equal(await defaultWorkers(quota('1600000 100000'), 4), 4);
    assert.equal(await defaultWorkers(quota('10000 100000'), 4), 1);
    assert.equal(await defaultWorkers(files({}), 0), 1);
  });

  test('is what http.workers defaults to, and the key or REGISTRY_HTTP_WORKERS still wins', async () => {
    const cpus = () => defaultWorkers(quota('300000 100000'), 16);
    assert.equal((await loadConfig({ env: {}, cpus })).http.workers, 3);
    assert.equal((await loadConfig({ env: { REGISTRY_HTTP_WORKERS: '5' }, cpus })).http.workers, 5);
    assert.equal((await loadConfig({ env: { REGISTRY_STORAGE: 'inmemory' }, cpus })).http.workers, 1);
  });
});
