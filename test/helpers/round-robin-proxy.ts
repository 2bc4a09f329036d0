import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface ProxiedRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  /** Index into the proxy's backend list. */
  backend: number;
  /** The backend's status, or 502 when it could not be reached. */
  status: number;
}

export interface RoundRobinProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the registry part of image references */
  host: string;
  /** Requests forwarded to each backend so far, in backend order. */
  counts(): number[];
  /** Every forwarded request whose response head arrived (or failed), in arrival order. */
  requests(): ProxiedRequest[];
  /** Forgets the counts and the request log, e.g. between test steps. */
  reset(): void;
  close(): Promise<void>;
}

// RFC 9110 §7.6.1: meaningful for one connection only. The proxy's own connections handle framing
// (Node chooses Content-Length or chunked for each side) and 100-continue (Node answers the client).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

function appendForwardedFor(prior: string | string[] | undefined, client: string | undefined): string {
  const list = [prior].flat().filter((v): v is string => !!v);
  if (client) list.push(client);
  return list.join(', ');
}

/**
 * An HTTP/1.1 reverse proxy for tests that sends each request to the next backend in turn, so that
 * consecutive requests of one client (and of one upload) land on different replicas. Bodies stream
 * both ways with backpressure and are never buffered; Host passes through unchanged and
 * X-Forwarded-For/Proto/Host are added, as a load balancer in front of Berth would; backend
 * connections are kept alive and no request has a time limit.
 */
export async function startRoundRobinProxy(backends: readonly string[]): Promise<RoundRobinProxy> {
  if (backends.length === 0) throw new Error('a round-robin proxy needs at least one backend');
  const targets = backends.map((b) => new URL(b));
  const agent = new http.Agent({ keepAlive: true });
  let next = 0;
  let counts = targets.map(() => 0);
  let log: ProxiedRequest[] = [];
  const upstreams = new Set<http.ClientRequest>();
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const backend = next;
    next = (next + 1) % targets.length;
    counts[backend]++;
    const target = targets[backend];
    const headers = forwardable(req.headers);
    headers['x-forwarded-for'] = appendForwardedFor(req.headers['x-forwarded-for'], req.socket.remoteAddress);
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 §6.3); say so
    // explicitly, or Node would send an empty chunked body for POST, PUT and PATCH.
    if (headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) headers['content-length'] = '0';
    const record = (status: number) => log.push({ method: req.method ?? '', url: req.url ?? '', backend, status });

    const upstream = http.request({
      agent,
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers,
      // Node's client would otherwise rewrite Host to the backend's address.
      setHost: false,
    });
    upstreams.add(upstream);
    upstream.once('close', () => upstreams.delete(upstream));

    upstream.once('response', (upRes) => {
      record(upRes.statusCode ?? 0);
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, forwardable(upRes.headers));
      // A failure mid-body cannot be reported in HTTP any more: cutting the client's connection
      // lets it see a truncated response instead of a silently short one.
      pipeline(upRes, res).catch(() => req.socket.destroy());
    });
    upstream.once('error', (e) => {
      if (res.headersSent) {
        req.socket.destroy();
        return;
      }
      record(502);
      const body = JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `proxy: backend ${backend} failed: ${e.message}` }] });
      res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    // On failure pipeline destroys both sides; the upstream's 'error' above answers the client.
    pipeline(req, upstream).catch(() => undefined);
  };

  const server = http.createServer({ keepAlive: true }, handle);
  // Long pushes and pulls must not be cut by the proxy; Berth's own idle timeout still applies.
  server.requestTimeout = 0;
  server.timeout = 0;
  server.keepAliveTimeout = 75_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;

  return {
    url: `http://${host}`,
    host,
    counts: () => [...counts],
    requests: () => [...log],
    reset() {
      counts = targets.map(() => 0);
      log = [];
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const u of upstreams) u.destroy();
      for (const s of sockets) s.destroy();
      await closed;
      agent.destroy();
    },
  };
}
