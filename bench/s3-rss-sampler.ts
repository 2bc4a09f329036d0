import { readFile, writeFile } from 'node:fs/promises';

const MiB = 1024 * 1024;

export interface RssReport {
  /** VmRSS when sampling started. */
  baseline: number;
  /** Highest VmRSS seen in the samples (every `intervalMs`). */
  peak: number;
  /** The kernel's high-water mark (VmHWM) at the end, since the last reset. */
  hwm: number;
  samples: number;
  ms: number;
}

async function status(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Samples another process's VmRSS every `intervalMs` while `work` runs. The kernel's VmHWM is reset
 * first (clear_refs 5, which needs root or the same user), so it covers only this phase.
 */
export async function sampleRss(pid: number, work: () => Promise<void>, intervalMs = 100): Promise<RssReport> {
  await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => undefined);
  const started = Date.now();
  const { rss: baseline } = await status(pid);
  let peak = baseline;
  let samples = 0;
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pending = status(pid).then(
      ({ rss }) => {
        samples++;
        peak = Math.max(peak, rss);
      },
      () => undefined,
    );
  }, intervalMs);
  try {
    await work();
  } finally {
    clearInterval(timer);
    await pending;
  }
  const end = await status(pid);
  return { baseline, peak: Math.max(peak, end.rss), hwm: end.hwm, samples, ms: Date.now() - started };
}

export function formatRss(label: string, r: RssReport): string {
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  return (
    `${label}: baseline ${mib(r.baseline)}, peak VmRSS ${mib(r.peak)} (growth ${mib(r.peak - r.baseline)}), ` +
    `VmHWM ${mib(r.hwm)}, ${r.samples} samples over ${(r.ms / 1000).toFixed(1)} s`
  );
}
