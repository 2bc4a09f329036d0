import { performance } from 'node:perf_hooks';

export interface LoopResult {
  ops: number;
  ms: number;
  /** Latencies of each op, ms, sorted. */
  latencies: Float64Array;
}

/**
 * Runs `op` from `concurrency` workers until `maxOps` ops have started or `maxMs` has passed, whichever
 * comes first. The first error stops every worker and is thrown.
 */
export async function closedLoop(concurrency: number, maxOps: number, maxMs: number, op: (i: number) => Promise<void>): Promise<LoopResult> {
  const started = performance.now();
  const deadline = started + maxMs;
  const latencies: number[] = [];
  let issued = 0;
  let failed: { err: unknown } | undefined;
  async function worker() {
    while (failed === undefined && issued < maxOps && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      try {
        await op(i);
      } catch (err) {
        failed ??= { err };
        return;
      }
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failed) throw failed.err;
  return { ops: latencies.length, ms: performance.now() - started, latencies: Float64Array.from(latencies).sort() };
}
