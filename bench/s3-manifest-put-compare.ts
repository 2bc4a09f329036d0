/**
 * Manifest PUT and GET on S3, builds of Berth head to head: each ROOT's Berth on one RGW bucket, straight
 * to RGW, pinned as in the bench, with the same config and layer; rounds of PUTs of new manifests
 * under new tags at c1 and c16 alternate between the builds, with each server's CPU per PUT, and
 * as many GETs of a manifest by tag (a read: one tag link, one manifest). A fresh RGW is started here. Run by hand after a build of each ROOT:
 *
 *   node dist/bench/s3-manifest-put-compare.js [ROUNDS, default 4] [PUTS per round, default 60] ROOT...
 *
 * Each ROOT is a checkout whose dist/ is built (node_modules linked beside it).
 */
import os from 'node:os';
import path from 'node:path';
import { startRgw } from '../test/helpers/rgw';
import { Cleanup } from './cleanup';
import { closedLoop } from './closed-loop';
import { expectStatus, HttpClient } from './http-client';
import { MANIFEST_ACCEPT, manifestBytes, putManifest, seedImage } from './oci';
import { withServerCpu } from './proc';
import { runMain } from './run-main';
import { pinSelf, startServer, type RunningServer } from './servers';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 4);
  const puts = Number(process.argv[3] ?? 60);
  const roots = process.argv.slice(4);
  if (roots.length === 0) throw new Error('usage: s3-manifest-put-compare [ROUNDS] [PUTS] ROOT...');
  pinSelf();
  const cleanup = new Cleanup();
  const rgw = await startRgw();
  const servers: { name: string; server: RunningServer }[] = [];
  try {
    const bucket = `put-compare-${Date.now() % 100_000}`;
    await rgw.createBucket(bucket);
    const s3 = { endpoint: rgw.endpoint, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, bucket };
    for (const root of roots) servers.push({ name: path.basename(root), server: await startServer('berth', root, cleanup, { cpuProfDir: null, shared: true, notifications: '', s3 }) });
    const repo = 'bench/put';
    const seeder = new HttpClient(servers[0].server.target.base, 1);
    const { config, layer } = await seedImage(seeder, repo, 'seed', Buffer.alloc(1024, 1));
    seeder.close();
    const figures = new Map<string, number[]>();
    const record = (key: string, x: number) => figures.set(key, [...(figures.get(key) ?? []), x]);
    let serial = 0;
    console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    for (let round = 0; round < rounds; round++) {
      for (const [op, c] of [['PUT', 1], ['PUT', 16], ['GET', 1], ['GET', 16]] as const) {
        for (let k = 0; k < servers.length; k++) {
          const { name, server } = servers[(round + k) % servers.length];
          const client = new HttpClient(server.target.base, c);
          const run = serial++;
          const once =
            op === 'PUT'
              ? async (i: number) => void (await putManifest(client, repo, `t${run}-${i}`, manifestBytes(config, [layer], `${run}-${i}`)))
              : async () => void expectStatus('GET manifest by tag', await client.send('GET', `/v2/${repo}/manifests/seed`, { headers: { accept: MANIFEST_ACCEPT } }), 200);
          const { result, cpu } = await withServerCpu(server.target.pid, () => closedLoop(c, op === 'PUT' ? puts : 5 * puts, 120_000, once));
          client.close();
          const rate = result.ops / (result.ms / 1000);
          const cpuUs = (cpu * 1e6) / result.ops;
          record(`${name} c${c} ${op}/s`, rate);
          record(`${name} c${c} CPU us/${op}`, cpuUs);
          console.log(`round ${round + 1} c${c} ${name}: ${rate.toFixed(1)} ${op}/s, ${(cpuUs / 1000).toFixed(2)} ms CPU/${op}, p50 ${result.latencies[result.latencies.length >> 1].toFixed(1)} ms, p99 ${result.latencies[Math.floor(result.latencies.length * 0.99)].toFixed(1)} ms`);
        }
      }
    }
    console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log('\nmedian (each round)');
    for (const [key, xs] of figures) console.log(`${key}: ${median(xs).toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(' ')})`);
  } finally {
    for (const s of servers) await s.server.stop().catch(() => undefined);
    cleanup.runNow();
    await rgw.stop();
  }
}

runMain(main);
