import https from 'node:https';
import type { Agent } from 'node:https';
import tls from 'node:tls';

export interface TlsClientOptions {
  ca?: string;
  cert?: string;
  key?: string;
  agent?: Agent;
  maxVersion?: tls.SecureVersion;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The server certificate this response came over. */
  peerFingerprint: string;
  localPort: number;
}

/** One request over HTTPS, verifying the server against `ca` (no agent: a new connection unless one is given). */
export function httpsRequest(url: string, opts: TlsClientOptions = {}): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, ca: opts.ca, cert: opts.cert, key: opts.key, maxVersion: opts.maxVersion, agent: opts.agent ?? false },
      (res) => {
        const socket = res.socket as tls.TLSSocket;
        const peerFingerprint = socket.getPeerCertificate().fingerprint256;
        const localPort = socket.localPort ?? 0;
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peerFingerprint, localPort }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The fingerprint of the certificate a fresh TLS handshake is answered with. */
export function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** Polls `check` every 50 ms until it returns true, failing with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The HTTP versions ("1.1", "2.0") of the requests in Berth's access log whose User-Agent matches `agent`. */
export function httpVersionsUsed(logs: string, agent: RegExp): string[] {
  const versions = new Set<string>();
  for (const line of logs.split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    const rec = JSON.parse(line) as { userAgent?: string; httpVersion?: string };
    if (rec.userAgent && agent.test(rec.userAgent)) versions.add(String(rec.httpVersion));
  }
  return [...versions].sort();
}
