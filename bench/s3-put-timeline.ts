/**
 * Where a manifest PUT's time goes on S3: Berth and Distribution each on a bucket of one RGW, behind a
 * proxy that records when each S3 request arrived and when its answer ended, relative to the PUT's
 * start. 15 PUTs of new manifests under new tags each; the last three are printed request by request,
 * with each registry's median. Unpinned, so the timeline shows latency, not CPU share. Run by hand
 * after a build:
 *
 *   node dist/bench/s3-put-timeline.js [ROOT, default: this checkout]
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { startRgw } from '../test/helpers/rgw';
import { Cleanup } from './cleanup';
import { HttpClient } from './http-client';
import { manifestBytes, putManifest, seedImage } from './oci';
import { startServer } from './servers';
import { runMain } from './run-main';

interface Ev { method: string; url: string; t0: number; t1: number; status: number }
/** A proxy to `target` that records every request's arrival and the end of its answer. */
function proxy(target: string): Promise<{ url: string; evs: Ev[]; close(): void }> {
  const evs: Ev[] = [];
  const up = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      pipeline(r, res).then(() => evs.push({ method: req.method!, url: req.url!, t0, t1: performance.now(), status: r.statusCode! }), () => {});
    });
    pipeline(req, out).catch(() => {});
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, evs, close: () => server.close() })));
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? path.resolve(__dirname, '../..');
  const cleanup = new Cleanup();
  const rgw = await startRgw();
  try {
    for (const kind of ['berth', 'reference'] as const) {
      const p = await proxy(rgw.endpoint);
      const bucket = `trace-${kind}`;
      await rgw.createBucket(bucket);
      const s3 = { endpoint: p.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, bucket };
      const server = await startServer(kind, root, cleanup, { cpuProfDir: null, shared: true, notifications: '', s3, cpu: null });
      const c = new HttpClient(server.target.base, 1);
      const { config, layer } = await seedImage(c, 'bench/put', 'seed', Buffer.alloc(1024, 1));
      const totals: number[] = [];
      for (let i = 0; i < 15; i++) {
        p.evs.length = 0;
        const t = performance.now();
        await putManifest(c, 'bench/put', `t${i}`, manifestBytes(config, [layer], `a${i}`));
        const total = performance.now() - t;
        totals.push(total);
        if (i >= 12) {
          console.log(`${kind} PUT ${i}: ${total.toFixed(1)} ms`);
          for (const e of [...p.evs].sort((a, b) => a.t0 - b.t0)) console.log(`  ${(e.t0 - t).toFixed(1).padStart(6)} → ${(e.t1 - t).toFixed(1).padStart(6)}  ${e.method} ${e.status} ${e.url.replace(/\?.*/, '').slice(-70)}`);
        }
      }
      totals.sort((a, b) => a - b);
      console.log(`${kind} median ${totals[7].toFixed(1)} ms`);
      c.close();
      await server.stop();
      p.close();
    }
  } finally {
    await rgw.stop();
    cleanup.runNow();
  }
}
runMain(main);
