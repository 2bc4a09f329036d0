import type { RawConnection, RawConnectionPool } from './raw-connection';
import { timeoutError } from './timeouts';

/** A response head above this is not an S3 answer. */
const MAX_HEAD = 64 * 1024;

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
  conn: RawConnection;
  /** Body bytes that came with the head. */
  leftover: Buffer;
  /** Whether the connection may serve another request once the body has been read. */
  keepAlive: boolean;
}

/** RFC 9110's token: a header name with anything else (space before the colon, say) is malformed. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Strict: whatever is not plainly one header per line is an error, and the caller then leaves the
 * GET to the SDK's parser. A folded line (obs-fold) or a repeated Content-Length or Transfer-Encoding
 * could otherwise make this parser and the server disagree on where the body ends.
 */
function parseHead(head: string): { status: number; headers: Map<string, string>; keepAlive: boolean } {
  const [statusLine, ...lines] = head.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP/1.x response: ${JSON.stringify(statusLine.slice(0, 100))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, Math.max(colon, 0)).toLowerCase();
    if (!TOKEN.test(name) || /[\r\n\0]/.test(line)) throw new Error(`malformed response header: ${JSON.stringify(line.slice(0, 100))}`);
    const value = line.slice(colon + 1).trim();
    const seen = headers.get(name);
    if (seen !== undefined && (name === 'content-length' || name === 'transfer-encoding')) throw new Error(`response repeats ${name}`);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  }
  // HTTP/1.0 keeps a connection only when asked to; this client never asks, so it is closed then.
  const keepAlive = m[1] === '1' && !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.get('connection') ?? '');
  return { status: Number(m[2]), headers, keepAlive };
}

/** A request of this client: small bodies only, sent whole with the head. */
export interface RawRequest {
  method: 'GET' | 'HEAD' | 'PUT';
  url: URL;
  /** Besides Host and, with a body, Content-Length. */
  headers: Record<string, string>;
  body?: Uint8Array;
}

/**
 * Sends `req` on a pooled connection and resolves with the response head once it has arrived,
 * the connection paused before the body (whose reader attaches to it). Fails with a timeout error
 * when no head arrived within `timeoutMs`, and with the signal's reason when it aborts; the
 * connection is then closed. Resolves with null, sending nothing, when the pool has no connection to
 * spare.
 */
export function rawRequest(pool: RawConnectionPool, req: RawRequest, timeoutMs: number, signal?: AbortSignal): Promise<RawResponse | null> {
  const { url } = req;
  signal?.throwIfAborted();
  const conn = pool.take(url);
  if (!conn) return Promise.resolve(null);
  return new Promise<RawResponse>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const fail = (err: Error) => {
      cleanup();
      conn.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal!.reason as Error);
    const timer = setTimeout(() => fail(timeoutError(`storage did not answer within ${timeoutMs} ms`)), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      conn.detach();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.attach({
      nextBuffer: () => undefined,
      onClose: (err) => fail(err ?? new Error('storage closed the connection before answering')),
      onData: (n, buf) => {
        // The head is small and arrives once per request: a copy is cheap here.
        head = Buffer.concat([head, buf.subarray(0, n)]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HEAD) fail(new Error('storage sent an oversized response head'));
          return true;
        }
        try {
          const parsed = parseHead(head.toString('latin1', 0, end));
          cleanup();
          // Body bytes that come before the caller's reader attaches are kept for it, not dropped.
          conn.hold();
          resolve({ ...parsed, conn, leftover: head.subarray(end + 4) });
        } catch (err) {
          fail(err as Error);
        }
        return false;
      },
    });
    const target = `${url.pathname}${url.search}`;
    const lines = [`${req.method} ${target} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`)];
    if (req.body) lines.push(`Content-Length: ${req.body.length}`);
    const requestHead = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    // One write for head and body: one segment on the wire for a small request.
    conn.socket.write(req.body ? Buffer.concat([requestHead, req.body]) : requestHead);
    // Reads of an idle pooled connection stopped with its last body.
    conn.resume();
  });
}
