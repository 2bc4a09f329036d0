import type { Config } from './schema';

/**
 * A process that owns its storage sees every write (its own), so only out-of-band changes (an
 * offline `berth gc`) wait for the TTL; replicas that share storage re-read by default, so a tag
 * moved through one is served by all at once.
 */
export function readCacheTtl(config: Config): number {
  // With Redis every process reads the shared cache, which writes keep coherent; a local copy of a
  // mutable fact would be one more place a write must reach (docs/architecture.md, "Shared cache").
  if (config.redis) return 0;
  const shared = config.storage.driver === 's3' || config.http.secret !== undefined;
  return config.storage.cache.ttl ?? (shared ? 0 : 1000);
}

/**
 * storage.uploads.hashstate. auto: where a commit's re-read is a download (S3) and another process
 * could continue the session (a secret every replica shares; without one a restart loses the
 * session anyway).
 */
export function savesHashStates(config: Config): boolean {
  const mode = config.storage.uploads.hashstate;
  return mode === 'on' || (mode === 'auto' && config.storage.driver === 's3' && config.http.secret !== undefined);
}

/** A value Berth works out from others (or from the machine), as `berth config check` shows it. */
export interface Derived {
  key: string;
  value: string;
  why: string;
}

/**
 * The values the server derives rather than reads, each with why; `input` is the configuration
 * as given (file and environment, before defaults), to tell a value set from one worked out.
 */
export function derivedValues(config: Config, input: Record<string, unknown>): Derived[] {
  const given = (...path: string[]) => path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), input) !== undefined;
  const out: Derived[] = [];
  if (config.redis) out.push({ key: 'storage.cache.ttl', value: 'not used', why: 'redis is configured: every process reads the shared cache' });
  else if (!given('storage', 'cache', 'ttl')) {
    const shared = config.storage.driver === 's3' || config.http.secret !== undefined;
    out.push({ key: 'storage.cache.ttl', value: `${readCacheTtl(config)}ms`, why: shared ? 'unset, and replicas may share this storage (s3, or http.secret set): always re-read' : 'unset, and this process owns its storage' });
  }
  if (!given('http', 'workers'))
    out.push({ key: 'http.workers', value: String(config.http.workers), why: config.storage.driver === 'inmemory' ? 'inmemory storage' : 'the CPUs available to this process' });
  if (config.storage.uploads.hashstate === 'auto')
    out.push({ key: 'storage.uploads.hashstate', value: savesHashStates(config) ? 'on' : 'off', why: 'auto: on for s3 with http.secret set, off otherwise' });
  if (config.http.secret === undefined) out.push({ key: 'http.secret', value: 'random per process', why: 'unset: an upload can only be continued by the process that started it' });
  return out;
}
