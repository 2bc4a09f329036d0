import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { TLSSocket } from 'node:tls';

export interface H2Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An HTTP/2 session over TLS that offers only `h2` in ALPN; resolves once connected (rejects on a refused handshake). */
export function h2Connect(url: string, opts: { ca: string; cert?: string; key?: string }): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca: opts.ca, cert: opts.cert, key: opts.key });
    const fail = (err: Error) => {
      session.destroy();
      reject(err);
    };
    session.once('error', fail);
    session.once('close', () => reject(new Error('session closed before it connected')));
    session.once('connect', () => {
      session.off('error', fail);
      // Later errors belong to the requests that see them.
      session.on('error', () => undefined);
      resolve(session);
    });
  });
}

/** The certificate the session's TLS connection was answered with. */
export function sessionFingerprint(session: ClientHttp2Session): string {
  return (session.socket as TLSSocket).getPeerCertificate().fingerprint256;
}

export interface H2RequestOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  /** The body, written as these pieces (no Content-Length unless given in `headers`). */
  body?: Buffer | Buffer[];
  /** Pause reading the response for this long after its first chunk (backpressure). */
  pauseMs?: number;
}

/** One request on `session`; the whole response body is collected. */
export function h2Request(session: ClientHttp2Session, path: string, opts: H2RequestOptions = {}): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': opts.method ?? 'GET', ':path': path, ...opts.headers });
    const chunks: Buffer[] = [];
    let headers: IncomingHttpHeaders = {};
    let paused = false;
    stream.on('response', (h) => (headers = h));
    stream.on('data', (d: Buffer) => {
      chunks.push(d);
      if (opts.pauseMs !== undefined && !paused) {
        paused = true;
        stream.pause();
        setTimeout(() => stream.resume(), opts.pauseMs);
      }
    });
    let ended = false;
    stream.on('end', () => {
      ended = true;
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) });
    });
    stream.on('error', reject);
    // A session torn down under the stream (a refused client certificate) ends it without 'error'.
    stream.on('close', () => {
      if (!ended) reject(new Error(`stream closed before its end (code ${stream.rstCode})`));
    });
    const pieces = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    void (async () => {
      for (const piece of pieces) {
        if (!stream.write(piece)) await new Promise((r) => stream.once('drain', r));
      }
      stream.end();
    })();
  });
}
