import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  status: number;
  /** x-amz-copy-source, on server-side copies (CopyObject, UploadPartCopy). */
  copySource?: string;
}

/** The S3 operation a request is, as far as method and query tell (enough to count costs). */
export function s3Operation(r: ProxiedRequest): string {
  const url = new URL(r.url, 'http://x.invalid');
  const q = url.searchParams;
  // Path style: /bucket/key. A GET of the bucket itself is a listing.
  const onBucket = url.pathname.split('/').filter(Boolean).length <= 1;
  if (r.method === 'GET' && q.get('list-type') === '2') return 'ListObjectsV2';
  if (r.method === 'GET' && q.has('uploads')) return 'ListMultipartUploads';
  if (r.method === 'GET' && q.has('uploadId')) return 'ListParts';
  if (r.method === 'GET' && onBucket) return 'ListObjects';
  if (r.method === 'GET') return 'GetObject';
  if (r.method === 'HEAD') return 'HeadObject';
  if (r.method === 'PUT' && q.has('partNumber')) return r.copySource ? 'UploadPartCopy' : 'UploadPart';
  if (r.method === 'PUT') return r.copySource ? 'CopyObject' : 'PutObject';
  if (r.method === 'POST' && q.has('uploads')) return 'CreateMultipartUpload';
  if (r.method === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
  if (r.method === 'POST' && q.has('delete')) return 'DeleteObjects';
  if (r.method === 'DELETE' && q.has('uploadId')) return 'AbortMultipartUpload';
  if (r.method === 'DELETE') return 'DeleteObject';
  return `${r.method} ${r.url}`;
}

/** Requests counted by operation, e.g. { ListObjectsV2: 10, HeadObject: 1 }. */
export function countByOperation(requests: readonly ProxiedRequest[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) counts[s3Operation(r)] = (counts[s3Operation(r)] ?? 0) + 1;
  return counts;
}

/** Far longer than any S3 request takes on a loaded machine: only a test that went wrong waits it out. */
const ANSWER_TIMEOUT_MS = 60_000;

export interface CountingProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every request forwarded so far, in the order their responses started. */
  requests: ProxiedRequest[];
  /**
   * Runs `cause`, then resolves once `count` more requests matching `match` have been answered in
   * full: what S3 did for them is then done, whenever the client gets to read it. A test orders
   * racing requests by these events instead of by sleeps. Rejects when they have not happened
   * within a minute, naming what was answered, rather than leaving the test to hang.
   */
  answered(match: (r: ProxiedRequest) => boolean, count: number, cause: () => unknown): Promise<void>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of one upstream (an S3 server) that records each request. It passes the
 * Host header through untouched, because SigV4 signs it: a client pointed at the proxy signs for the
 * proxy's address, and the upstream checks the signature against the Host it receives. Bodies stream
 * both ways.
 */
export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const requests: ProxiedRequest[] = [];
  const done: ProxiedRequest[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const out = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upstreamRes) => {
        const copySource = req.headers['x-amz-copy-source'];
        const seen: ProxiedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          status: upstreamRes.statusCode ?? 0,
          ...(typeof copySource === 'string' ? { copySource } : {}),
        };
        requests.push(seen);
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        pipeline(upstreamRes, res).then(
          () => {
            done.push(seen);
            for (const wake of waiters) wake();
          },
          () => res.destroy(),
        );
      },
    );
    out.on('error', () => res.destroy());
    pipeline(req, out).catch(() => out.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async answered(match, count, cause) {
      const wanted = done.filter(match).length + count;
      let wake = () => {};
      let timer: NodeJS.Timeout | undefined;
      const reached = new Promise<void>((resolve, reject) => {
        wake = () => {
          if (done.filter(match).length >= wanted) resolve();
        };
        timer = setTimeout(() => {
          const seen = done.map((r) => `${s3Operation(r)} ${r.url}`).join('\n');
          reject(new Error(`${wanted - done.filter(match).length} of the awaited S3 requests were never answered; answered:\n${seen}`));
        }, ANSWER_TIMEOUT_MS);
      });
      waiters.add(wake);
      try {
        await cause();
        wake();
        await reached;
      } finally {
        waiters.delete(wake);
        clearTimeout(timer);
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
