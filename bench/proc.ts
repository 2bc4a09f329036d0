import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { childPids, statField } from '../src/proc-files';

let ticksPerSecond = 0;

function clockTicks(): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

async function ownCpuSeconds(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  return (Number(statField(text, 14)) + Number(statField(text, 15))) / clockTicks();
}

/** The live processes below `pid` (Berth's workers under its primary), from each thread's `children`. */
export async function descendants(pid: number): Promise<number[]> {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of await childPids(queue.pop()!)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * User + system CPU seconds of a server: every thread of the process and of the processes below it
 * (a group of workers is one server). A child that exits meanwhile takes its share with it.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  let total = await ownCpuSeconds(pid);
  for (const child of await descendants(pid)) total += await ownCpuSeconds(child).catch(() => 0);
  return total;
}

/** Measures the server CPU time spent while `work` runs. */
export async function withServerCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const before = await cpuSeconds(pid);
  const result = await work();
  const after = await cpuSeconds(pid);
  return { result, cpu: after - before };
}

async function rssBytes(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Peak RSS growth of `pid` while `work` runs: the highest of samples every `intervalMs` and the
 * kernel's VmHWM (reset first with clear_refs 5 when permitted), minus RSS at the start.
 */
export async function rssGrowth<T>(pid: number, work: () => Promise<T>, intervalMs = 50): Promise<{ result: T; growth: number }> {
  const resetOk = await writeFile(`/proc/${pid}/clear_refs`, '5').then(
    () => true,
    () => false,
  );
  const { rss: baseline } = await rssBytes(pid);
  let peak = baseline;
  let sampling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    sampling = rssBytes(pid).then(
      ({ rss }) => void (peak = Math.max(peak, rss)),
      () => undefined,
    );
  }, intervalMs);
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
    await sampling;
  }
  const end = await rssBytes(pid);
  peak = Math.max(peak, end.rss, resetOk ? end.hwm : 0);
  return { result, growth: Math.max(0, peak - baseline) };
}
