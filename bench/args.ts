import path from 'node:path';
import { MiB } from './stats';
import type { BenchConfig } from './types';

export const USAGE = `usage: npm run bench -- [--rounds N] [--quick] [--only SUBSTR[,SUBSTR...]]

  --rounds N   rounds per registry (default 3); the ratio table reports the median over rounds
  --quick      one short smoke round with smaller blobs, fewer tags and 1 s rate windows
  --only LIST  run only figure groups whose name contains one of the comma-separated words
               (groups: ceilings, large, rates, writes, tags, push32, replica, allcore,
               mirror, s3, insight; s3 runs a second pass with Berth's Redis cache, s3-redis-*)
  --cpu-prof DIR  run Berth under node --cpu-prof, writing one .cpuprofile per server start into DIR
  --notify     both registries send every event to a receiver in this process (notifications.endpoints),
               to measure what delivering events costs each
  --shared     run Berth as a replica sharing its storage (http.secret set): reads are not cached
               (storage.cache.ttl defaults to 0), so a tag moved by another replica is seen at once
  --insight-off  start Berth with insight.enabled false for the groups (large, rates, writes, tags,
               push32): what layer analysis costs them, beside a run without the flag`;

export class UsageError extends Error {}

export function parseArgs(argv: string[]): BenchConfig {
  let rounds: number | null = null;
  let quick = false;
  let only: string[] | null = null;
  let cpuProfDir: string | null = null;
  let shared = false;
  let notify = false;
  let insightOff = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--shared') shared = true;
    else if (a === '--notify') notify = true;
    else if (a === '--insight-off') insightOff = true;
    else if (a === '--rounds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new UsageError('--rounds needs an integer between 1 and 50');
      rounds = n;
    } else if (a === '--only') {
      const v = argv[++i];
      if (!v) throw new UsageError('--only needs a list');
      only = v.split(',').filter(Boolean);
    } else if (a === '--cpu-prof') {
      const v = argv[++i];
      if (!v) throw new UsageError('--cpu-prof needs a directory');
      cpuProfDir = path.resolve(v);
    } else if (a === '--help' || a === '-h') throw new UsageError('');
    else throw new UsageError(`unknown argument ${a}`);
  }
  if (quick) {
    return {
      rounds: rounds ?? 1,
      quick,
      mediumBlob: 16 * MiB,
      largeBlob: 128 * MiB,
      chunkSize: 8 * MiB,
      smallBlob: 4096,
      rateMs: 1000,
      warmupMs: 200,
      tagCount: 1000,
      pushClients: 32,
      pushLayers: 10,
      pushLayerSize: MiB,
      workingSetManifests: 2000,
      workingSetBlobs: 256,
      only,
      cpuProfDir,
      shared,
      notify,
      insightOff,
    };
  }
  return {
    rounds: rounds ?? 3,
    quick,
    mediumBlob: 64 * MiB,
    largeBlob: 512 * MiB,
    chunkSize: 8 * MiB,
    smallBlob: 4096,
    rateMs: 3000,
    warmupMs: 500,
    tagCount: 10_000,
    pushClients: 32,
    pushLayers: 10,
    pushLayerSize: MiB,
    workingSetManifests: 10_000,
    workingSetBlobs: 1024,
    only,
    cpuProfDir,
    shared,
    notify,
    insightOff,
  };
}
