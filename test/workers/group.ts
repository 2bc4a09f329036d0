import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';

/** A `berth serve` with http.workers = `workers` on the filesystem store at `root`. */
export function startGroup(root: string, workers = 2, env: Record<string, string> = {}): Promise<BerthProcess> {
  return startBerthProcess({
    env: {
      REGISTRY_HTTP_WORKERS: String(workers),
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
      REGISTRY_HTTP_DEBUG_ADDR: '127.0.0.1:0',
      ...env,
    },
  });
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a connection of its own (unless `agent` keeps one), so that the primary hands it to the next worker. */
export function onNewConnection(url: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer; agent?: http.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

interface LogLine {
  msg?: string;
  worker?: number | string;
  reqId?: string;
  [k: string]: unknown;
}

export function logLines(berth: BerthProcess): LogLine[] {
  return berth
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The worker slot whose access log line answered request `reqId` (the line follows the response closely). */
export async function workerOf(berth: BerthProcess, reqId: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const line = logLines(berth).find((l) => l.msg === 'request' && l.reqId === reqId);
    if (line) return line.worker as number;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no access log line for request ${reqId}`);
}

/** The slots that answered these responses. */
export async function workersOf(berth: BerthProcess, answers: Answer[]): Promise<Set<number>> {
  const slots = new Set<number>();
  for (const a of answers) slots.add(await workerOf(berth, a.headers['x-request-id'] as string));
  return slots;
}

/** The debug listener's address, from the primary's log. */
export function debugUrl(berth: BerthProcess): string {
  const line = logLines(berth).find((l) => l.msg === 'debug listener (metrics) ready');
  assert.ok(line, 'the primary logged its debug listener');
  return `http://${line.address as string}`;
}

/** The value of one sample in a Prometheus text scrape (0 when absent). */
export function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** The storage lock's holder (src/file-lock.ts): `flock`, which becomes `cat`. Not a worker. */
const LOCK_HOLDER = new Set(['flock', 'cat']);

/** The pids of a primary's live workers: its children, but the storage lock's holder. */
export function workerChildren(pid: number): number[] {
  let listed: string;
  try {
    listed = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return listed
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((child) => {
      try {
        return !LOCK_HOLDER.has(readFileSync(`/proc/${child}/comm`, 'utf8').trim());
      } catch {
        return false; // gone meanwhile
      }
    });
}

/** The pids of the primary's live children (its workers). */
export function workerPids(berth: BerthProcess): number[] {
  return workerChildren(berth.proc.pid!);
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
