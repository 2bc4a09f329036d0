import http from 'node:http';
import type { Writable } from 'node:stream';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body when it is at most `keepBody` bytes, else empty. */
  body: Buffer;
  /** Bytes received, kept or not. */
  received: number;
}

export interface SendOptions {
  headers?: http.OutgoingHttpHeaders;
  /** A whole body, sent with Content-Length. */
  body?: Buffer | string;
  /** Streams the body; without a Content-Length header Node sends it chunked. */
  write?: (req: Writable) => Promise<void>;
  keepBody?: number;
  timeoutMs?: number;
}

/** A keep-alive HTTP client bound to one server, with at most `sockets` connections. */
export class HttpClient {
  readonly agent: http.Agent;

  constructor(
    readonly base: string,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  url(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.base);
  }

  send(method: string, pathOrUrl: string, opts: SendOptions = {}): Promise<Reply> {
    const url = this.url(pathOrUrl);
    const headers: http.OutgoingHttpHeaders = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    const keepBody = opts.keepBody ?? 1 << 20;
    return new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received <= keepBody) chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: received <= keepBody ? Buffer.concat(chunks) : Buffer.alloc(0), received }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(opts.timeoutMs ?? 300_000, () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
      req.on('error', reject);
      if (opts.body !== undefined) req.end(opts.body);
      else if (opts.write) opts.write(req).then(() => req.end(), (err: Error) => req.destroy(err));
      else req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export class UnexpectedReply extends Error {
  constructor(what: string, reply: Reply, expected: number) {
    super(`${what}: expected ${expected}, got ${reply.status} ${reply.body.toString('utf8', 0, 300)}`);
  }
}

export function expectStatus(what: string, reply: Reply, expected: number): Reply {
  if (reply.status !== expected) throw new UnexpectedReply(what, reply, expected);
  return reply;
}
