import { cpuSeconds } from './proc';
import { runRawLoad, type RawLoadOptions } from './raw-client';
import { percentile } from './stats';
import type { FigureContext } from './types';

export type RateOptions = Omit<RawLoadOptions, 'host' | 'port' | 'warmupMs' | 'durationMs'> & { durationMs?: number };

export interface RateResult {
  rate: number;
  p50: number;
  p99: number;
  cpuPerRequestUs: number;
  requests: number;
}

/**
 * Warms up, then measures one window of closed-loop load: request rate, latency percentiles and server
 * CPU per request (utime+stime of the whole server process over the window). Emits four figures.
 */
export async function measureRate(ctx: FigureContext, name: string, opts: RateOptions): Promise<RateResult> {
  const { target, cfg } = ctx;
  const common = { host: '127.0.0.1', port: target.port, ...opts };
  if (cfg.warmupMs > 0 && opts.maxRequests === undefined) await runRawLoad({ ...common, warmupMs: 0, durationMs: cfg.warmupMs });
  const cpu0 = await cpuSeconds(target.pid);
  const r = await runRawLoad({ ...common, warmupMs: 0, durationMs: opts.durationMs ?? cfg.rateMs });
  const cpu1 = await cpuSeconds(target.pid);
  if (r.errors > 0) ctx.note(`${name}: ${r.errors} errors, first: ${r.firstError?.replace(/\s+/g, ' ').slice(0, 300)}`);
  if (r.requests === 0) throw new Error(`${name}: no successful request (${r.firstError})`);
  const result: RateResult = {
    rate: r.requests / (r.ms / 1000),
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    cpuPerRequestUs: ((cpu1 - cpu0) * 1e6) / r.requests,
    requests: r.requests,
  };
  ctx.emit({ name: `${name}-rate`, value: result.rate, unit: 'req/s', better: 'higher' });
  ctx.emit({ name: `${name}-p50`, value: result.p50, unit: 'ms', better: 'lower' });
  ctx.emit({ name: `${name}-p99`, value: result.p99, unit: 'ms', better: 'lower' });
  ctx.emit({ name: `${name}-cpu`, value: result.cpuPerRequestUs, unit: 'us/req', better: 'lower' });
  ctx.note(`${name}: ${r.requests} requests in ${(r.ms / 1000).toFixed(2)} s, load generator CPU ${(r.loadgenCpu * 100).toFixed(0)}%`);
  return result;
}
