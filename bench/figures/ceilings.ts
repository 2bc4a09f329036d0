import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { drained, pseudoRandom } from '../blob-data';
import type { Cleanup } from '../cleanup';
import { HttpClient, expectStatus } from '../http-client';
import { measureRate } from '../measure-rate';
import { requestBytes } from '../raw-client';
import { rawPull } from '../raw-pull';
import { SERVER_CPU } from '../servers';
import { MiB, mbPerSec, sizeLabel } from '../stats';
import type { BenchConfig, Emit, FigureContext, Target } from '../types';

async function startTrivial(mode: 'http' | 'raw', cleanup: Cleanup): Promise<{ target: Target; stop: () => void }> {
  const script = path.join(__dirname, '..', 'trivial-server.js');
  const child = spawn('taskset', ['-c', SERVER_CPU, process.execPath, script, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.addChild(child);
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('trivial server did not start')), 10_000);
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`trivial server exited ${code}`)));
  });
  const port = (JSON.parse(line) as { port: number }).port;
  const host = `127.0.0.1:${port}`;
  return { target: { kind: 'machine', base: `http://${host}`, host, port, pid: child.pid! }, stop: () => child.kill('SIGTERM') };
}

function sha256Rate(size: number): number {
  const block = pseudoRandom(MiB, 3);
  const hash = createHash('sha256');
  const t0 = performance.now();
  for (let done = 0; done < size; done += MiB) hash.update(block);
  hash.digest();
  return mbPerSec(size, performance.now() - t0);
}

/** Sequential 1 MiB writes then one fdatasync, as a registry finishing an upload does. Sync I/O: a benchmark tool. */
function diskWrite(file: string, size: number): number {
  const block = pseudoRandom(MiB, 5);
  const t0 = performance.now();
  const fd = openSync(file, 'w');
  try {
    for (let done = 0; done < size; done += MiB) writeSync(fd, block);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return mbPerSec(size, performance.now() - t0);
}

async function pull(client: HttpClient, path: string, size: number): Promise<number> {
  const url = client.url('/');
  const t0 = performance.now();
  const reply = await rawPull(url.hostname, Number(url.port), path);
  if (reply.status !== 200 || reply.bytes !== size) throw new Error(`GET ${path}: ${reply.status}, ${reply.bytes} bytes, expected ${size}`);
  return mbPerSec(size, performance.now() - t0);
}

/**
 * The machine's ceilings, measured in the same run: Node's sha256, the disk with fdatasync, Node's raw
 * HTTP streaming of a file and bare request rate, and the load generator's own limits.
 */
export async function ceilingFigures(cfg: BenchConfig, cleanup: Cleanup, emit: Emit, note: (line: string) => void): Promise<void> {
  const size = cfg.largeBlob;
  const L = sizeLabel(size);
  emit({ name: `ceiling-node-sha256`, value: sha256Rate(size), unit: 'MB/s', better: 'info' });

  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-ceilings-'));
  cleanup.addDir(dir);
  const file = path.join(dir, 'blob');
  try {
    emit({ name: `ceiling-disk-write-fdatasync-${L}`, value: diskWrite(file, size), unit: 'MB/s', better: 'info' });

    const http = await startTrivial('http', cleanup);
    const client = new HttpClient(http.target.base, 8);
    try {
      for (const hwm of [64 * 1024, MiB]) {
        const v = await pull(client, `/file?path=${encodeURIComponent(file)}&hwm=${hwm}`, size);
        emit({ name: `ceiling-node-http-file-${L}-read-${sizeLabel(hwm)}`, value: v, unit: 'MB/s', better: 'info' });
      }
      emit({ name: `ceiling-loadgen-pull-memory-${L}`, value: await pull(client, `/mem?size=${size}`, size), unit: 'MB/s', better: 'info' });
      const block = pseudoRandom(MiB, 9);
      const push = async (bytes: number) => {
        const t0 = performance.now();
        const put = await client.send('PUT', '/sink', {
          headers: { 'content-length': bytes },
          write: async (req) => {
            for (let done = 0; done < bytes; done += MiB) if (!req.write(block)) await drained(req);
          },
        });
        expectStatus('PUT /sink', put, 201);
        return mbPerSec(bytes, performance.now() - t0);
      };
      await push(64 * MiB); // warms the connection and the JIT
      emit({ name: `ceiling-loadgen-push-${L}`, value: await push(size), unit: 'MB/s', better: 'info' });

      const ctx: FigureContext = { target: http.target, cfg, emit: (f) => emit({ ...f, better: 'info' }), note };
      const req = requestBytes('GET', '/', http.target.host);
      for (const c of [1, 16, 64]) await measureRate(ctx, `ceiling-node-http-c${c}`, { concurrency: c, head: false, expectStatus: 200, request: () => req });
    } finally {
      client.close();
      http.stop();
    }

    const raw = await startTrivial('raw', cleanup);
    try {
      const ctx: FigureContext = { target: raw.target, cfg, emit: (f) => emit({ ...f, better: 'info' }), note };
      const req = requestBytes('GET', '/', raw.target.host);
      for (const c of [16, 64]) await measureRate(ctx, `ceiling-loadgen-c${c}`, { concurrency: c, head: false, expectStatus: 200, request: () => req });
    } finally {
      raw.stop();
    }
  } finally {
    cleanup.removeDir(dir);
  }
}
