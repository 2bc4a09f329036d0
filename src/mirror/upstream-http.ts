/**
 * The mirror's HTTP/1.1 transport to one upstream, on Node's http/https (no dependency): keep-alive
 * agents, the upstream's CA or `insecure`, an inactivity timeout that also covers a blob body that
 * stalls, caller aborts, and redirects followed by hand because registries send blob GETs to object
 * storage, and the upstream's Authorization must not travel with them to another host (presigned
 * URLs authenticate themselves; S3 even refuses a request carrying both).
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { UpstreamError, describeUrl } from './upstream-errors';

export interface TransportOptions {
  /** The upstream's origin, the only one `insecure` applies to. */
  origin: string;
  /** PEM certificates trusted for the upstream (besides the public roots). */
  caPem?: string;
  /** Skip certificate verification for the upstream's own host (not for hosts it redirects to). */
  insecure?: boolean;
  /** No byte for this long (connecting, waiting for the answer, or mid-body) fails the request. */
  timeoutMs: number;
  maxRedirects: number;
}

export interface UpstreamResponse {
  /** Where the answer came from, after redirects. */
  url: URL;
  method: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  followRedirects?: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Upstream operators see who is pulling (Docker Hub asks mirrors to identify themselves). */
const USER_AGENT = 'berth-mirror';

/**
 * A network failure (refused, reset, TLS, the connection dropping mid-body) as `unavailable`; an
 * UpstreamError or the caller's abort pass through. Node's messages never carry headers, so no
 * credentials.
 */
export function bodyError(err: unknown, method: string, url: URL, signal?: AbortSignal): Error {
  if (err instanceof UpstreamError || signal?.aborted) return err as Error;
  const e = err as NodeJS.ErrnoException;
  const code = e.code && !String(e.message).includes(e.code) ? `${e.code}: ` : '';
  return new UpstreamError('unavailable', `upstream ${method} ${describeUrl(url)} failed: ${code}${String(e.message)}`);
}

export class UpstreamTransport {
  private readonly origin: string;
  private readonly upstreamAgent: http.Agent;
  private readonly foreignHttps: https.Agent;
  private readonly plainAgent = new http.Agent({ keepAlive: true });

  constructor(private readonly opts: TransportOptions) {
    this.origin = new URL(opts.origin).origin;
    // `ca` replaces Node's roots: keep them, so redirects to public object storage still verify.
    const ca = opts.caPem ? [...rootCertificates, opts.caPem] : undefined;
    this.foreignHttps = new https.Agent({ keepAlive: true, ca });
    this.upstreamAgent = new URL(opts.origin).protocol === 'https:' ? new https.Agent({ keepAlive: true, ca, rejectUnauthorized: !opts.insecure }) : this.plainAgent;
  }

  private agentFor(url: URL): http.Agent {
    if (url.origin === this.origin) return this.upstreamAgent;
    return url.protocol === 'https:' ? this.foreignHttps : this.plainAgent;
  }

  /** Sends one request, following redirects when asked; the caller consumes or discards the body. */
  async request(method: string, url: URL, opts: RequestOptions = {}): Promise<UpstreamResponse> {
    let current = url;
    let currentMethod = method;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...opts.headers };
    for (let hop = 0; ; hop++) {
      // Credentials are for the origin they were meant for (the upstream, or its token realm): once a
      // redirect leaves it they stay behind, even on the way back.
      if (current.origin !== url.origin) delete headers.authorization;
      const res = await this.once(currentMethod, current, headers, opts.signal);
      const location = res.headers.location;
      if (!opts.followRedirects || !REDIRECTS.has(res.status) || location === undefined) return res;
      res.body.resume();
      if (hop >= this.opts.maxRedirects)
        throw new UpstreamError('bad-response', `upstream ${method} ${describeUrl(url)}: more than ${this.opts.maxRedirects} redirects`, { status: res.status });
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new UpstreamError('bad-response', `upstream ${method} ${describeUrl(current)} redirected to an invalid location`, { status: res.status });
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new UpstreamError('bad-response', `upstream ${method} ${describeUrl(current)} redirected to a ${next.protocol} URL`, { status: res.status });
      if (res.status === 303 && currentMethod !== 'HEAD') currentMethod = 'GET';
      current = next;
    }
  }

  private once(method: string, url: URL, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<UpstreamResponse> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, { method, headers, agent: this.agentFor(url), timeout: this.opts.timeoutMs });
      let response: IncomingMessage | undefined;
      const fail = (err: Error) => {
        // Destroying the response too makes a body being read fail with this error, not a bare "aborted".
        response?.destroy(err);
        req.destroy(err);
      };
      const onAbort = () => fail(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('timeout', () => fail(new UpstreamError('unavailable', `upstream ${method} ${describeUrl(url)}: no data for ${this.opts.timeoutMs} ms`)));
      req.once('error', (err: NodeJS.ErrnoException) => reject(bodyError(err, method, url, signal)));
      req.once('response', (res) => {
        response = res;
        resolve({ url, method, status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      req.end();
    });
  }

  close(): void {
    this.upstreamAgent.destroy();
    this.foreignHttps.destroy();
    this.plainAgent.destroy();
  }
}

/** Reads a body into memory, failing once it passes `max` bytes (declared or actual). */
export async function readBounded(res: UpstreamResponse, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  const tooBig = () => new UpstreamError('bad-response', `upstream ${what} ${describeUrl(res.url)}: body larger than ${max} bytes`, { status: res.status });
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw tooBig();
  }
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) throw tooBig();
      parts.push(chunk);
    }
  } catch (err) {
    res.body.destroy();
    throw bodyError(err, res.method, res.url);
  }
  return Buffer.concat(parts);
}

/** Discards a body so the connection can be reused (or closes it when the body is large). */
export function discard(res: UpstreamResponse): void {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > 65536) res.body.destroy();
  else res.body.resume();
}
