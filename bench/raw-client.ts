import net from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A closed-loop keep-alive load generator on raw sockets: each connection sends one prebuilt request,
 * reads exactly one response (status line, Content-Length, body) and sends the next. node:http's client
 * costs several times more CPU per request, which would make the generator the bottleneck.
 */
export interface RawLoadOptions {
  host: string;
  port: number;
  concurrency: number;
  /** Builds the bytes of request number `i` (a full HTTP/1.1 request, keep-alive). */
  request: (i: number) => Buffer;
  /** Responses to HEAD requests have no body whatever their Content-Length says. */
  head: boolean;
  expectStatus: number;
  warmupMs: number;
  durationMs: number;
  /** Stop after this many requests in total (warm-up included), if set. */
  maxRequests?: number;
}

export interface RawLoadResult {
  requests: number;
  errors: number;
  firstError: string | null;
  ms: number;
  /** Latencies of the measured requests, ms, sorted. */
  latencies: Float64Array;
  /** Load generator CPU used during the measured window, as a share of one core. */
  loadgenCpu: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export function requestBytes(method: string, path: string, host: string, headers: Record<string, string> = {}, body?: Buffer): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (body) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

export function runRawLoad(opts: RawLoadOptions): Promise<RawLoadResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let measuring = opts.warmupMs <= 0;
    let measureStart = measuring ? started : 0;
    let cpuStart = measuring ? process.cpuUsage() : null;
    let stopping = false;
    let issued = 0;
    let requests = 0;
    let errors = 0;
    let firstError: string | null = null;
    const latencies: number[] = [];
    let open = 0;
    let measureEnd = 0;
    let cpuUsed = 0;
    const sockets: net.Socket[] = [];

    const warmTimer =
      opts.warmupMs > 0
        ? setTimeout(() => {
            measuring = true;
            measureStart = performance.now();
            cpuStart = process.cpuUsage();
          }, opts.warmupMs)
        : null;
    const stopTimer = setTimeout(stop, opts.warmupMs + opts.durationMs);
    // A server that stops answering must not hang the run.
    const hardTimer = setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, opts.warmupMs + opts.durationMs + 30_000);

    function stop() {
      if (stopping) return;
      stopping = true;
      measureEnd = performance.now();
      if (cpuStart) {
        const u = process.cpuUsage(cpuStart);
        cpuUsed = (u.user + u.system) / 1000;
      }
    }

    function fail(msg: string) {
      errors++;
      firstError ??= msg;
    }

    function finishSocket() {
      open--;
      if (open === 0) {
        if (!stopping) stop();
        if (warmTimer) clearTimeout(warmTimer);
        clearTimeout(stopTimer);
        clearTimeout(hardTimer);
        const ms = measureEnd - (measureStart || started);
        resolve({ requests, errors, firstError, ms, latencies: Float64Array.from(latencies).sort(), loadgenCpu: ms > 0 ? cpuUsed / ms : 0 });
      }
    }

    function connection() {
      const socket = net.connect({ host: opts.host, port: opts.port });
      sockets.push(socket);
      socket.setNoDelay(true);
      open++;
      let pending: Buffer | null = null;
      let sentAt = 0;
      let countThis = false;
      let need = -1; // total bytes of the current response once the head is parsed

      function next() {
        if (stopping || (opts.maxRequests !== undefined && issued >= opts.maxRequests)) {
          socket.end();
          return;
        }
        const i = issued++;
        countThis = measuring;
        need = -1;
        sentAt = performance.now();
        socket.write(opts.request(i));
      }

      socket.on('connect', next);
      socket.on('data', (chunk: Buffer) => {
        pending = pending ? Buffer.concat([pending, chunk]) : chunk;
        if (need < 0) {
          const end = pending.indexOf(HEADER_END);
          if (end < 0) return;
          const head = pending.toString('latin1', 0, end);
          const status = Number(head.slice(9, 12));
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (!m && /\r\ntransfer-encoding:\s*chunked/i.test(head)) {
            fail('chunked response: the raw client needs Content-Length');
            socket.destroy();
            return;
          }
          const bodyLen = opts.head || status === 204 || status === 304 ? 0 : Number(m?.[1] ?? 0);
          need = end + 4 + bodyLen;
          if (status !== opts.expectStatus) fail(`status ${status}: ${pending.toString('latin1', 0, Math.min(pending.length, 400))}`);
        }
        if (pending.length < need) return;
        if (pending.length > need) fail('bytes after the response (pipelining is not used)');
        pending = null;
        if (countThis && !stopping) {
          latencies.push(performance.now() - sentAt);
          requests++;
        }
        next();
      });
      socket.on('error', (err) => fail(err.message));
      socket.on('close', finishSocket);
    }

    try {
      for (let c = 0; c < opts.concurrency; c++) connection();
    } catch (err) {
      reject(err);
    }
  });
}
