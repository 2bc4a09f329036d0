import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Config } from './config/schema';
import type { TlsConfig } from './config/tls-schema';
import { drainable, type Drainable } from './drain';
import { logClientCertificateRefusals } from './tls/client-refusals';
import { fileSignature, watchFiles, type FileWatch } from './tls/file-watch';
import { loadTls } from './tls/tls-files';

export type Listener = http.Server | https.Server | http2.Http2SecureServer;

export interface ServedListener extends Drainable {
  server: Listener;
  tls: boolean;
  /** Stops watching the certificate files. */
  close(): void;
}

export interface ListenerOptions {
  /** Offer HTTP/2 in ALPN (with HTTP/1.1 beside it) when serving TLS. */
  http2: boolean;
}

// Receive windows as in Go's HTTP/2 server (1 MiB a stream): Node's 64 KiB would make a push over a
// long link wait a round trip every 64 KiB. Unread upload data a session can hold is bounded by them.
const STREAM_WINDOW = 1024 * 1024;
const SESSION_WINDOW = 4 * 1024 * 1024;
// Node's own default would let one client open billions of streams at once.
const MAX_STREAMS = 100;
// Response data queued to be sent counts against this (Node's default: 10 MB), and past it new
// streams are refused with ENHANCE_YOUR_CALM; each stream queues up to a storage chunk beyond its
// high-water mark, so MAX_STREAMS concurrent blob GETs need more than the default.
const SESSION_MEMORY_MB = 64;

/**
 * The app's handler serves HTTP/2 through Node's compatibility API, whose request and response
 * mirror IncomingMessage and ServerResponse in what the routes use; where they differ (no Host
 * header, connection-specific headers refused), the routes look at the protocol version.
 */
function secureServer(options: https.ServerOptions, handler: http.RequestListener, opts: ListenerOptions): https.Server | http2.Http2SecureServer {
  if (!opts.http2) return https.createServer(options, handler);
  const server = http2.createSecureServer(
    { ...options, allowHTTP1: true, maxSessionMemory: SESSION_MEMORY_MB, settings: { initialWindowSize: STREAM_WINDOW, maxConcurrentStreams: MAX_STREAMS } },
    handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  server.on('session', (session: http2.ServerHttp2Session) => session.setLocalWindowSize(SESSION_WINDOW));
  return server;
}

/**
 * A server for `handler`: HTTPS when `tls.certificate` is set (a TlsSetupError names the bad key
 * under `section`), with HTTP/2 offered beside HTTP/1.1 unless `opts.http2` is off; plain HTTP/1.1
 * otherwise. With TLS, the files are watched and a new pair replaces the served one for new
 * connections; open connections keep theirs. A pair that does not load (half written) keeps the
 * previous one and is logged.
 */
export async function createServer(tls: TlsConfig | undefined, section: string, handler: http.RequestListener, logger: Logger, opts: ListenerOptions): Promise<ServedListener> {
  if (tls?.certificate === undefined) {
    const server = http.createServer(handler);
    return { server, tls: false, close: () => undefined, ...drainable(server) };
  }
  const files = [tls.certificate, tls.key!, ...(tls.clientcas ?? [])];
  // Before the load: a rotation landing between the load and the watch is then seen as a change.
  const since = await fileSignature(files);
  const loaded = await loadTls(tls, section);
  const mutual = tls.clientcas !== undefined;
  const server = secureServer({ ...loaded.options, requestCert: mutual, rejectUnauthorized: mutual }, handler, opts);
  const log = logger.child({ tls: section });
  log.info({ certificate: tls.certificate, fingerprint: loaded.fingerprint, clientAuth: mutual, http2: opts.http2 }, 'tls certificate loaded');
  if (mutual) logClientCertificateRefusals(server, log);
  const watch: FileWatch = watchFiles(files, {
    intervalMs: tls.reloadinterval,
    since,
    onChange: async () => {
      try {
        const next = await loadTls(tls, section);
        server.setSecureContext(next.options);
        log.info({ certificate: tls.certificate, fingerprint: next.fingerprint }, 'tls certificate reloaded');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'tls files changed but do not load: still serving the previous certificate');
      }
    },
  });
  return { server, tls: true, close: () => watch.close(), ...drainable(server) };
}

/** The registry's own listener (http.addr, http.tls, http.http2) with its timeouts. */
export async function createListener(config: Config, handler: http.RequestListener, logger: Logger): Promise<ServedListener> {
  const listener = await createServer(config.http.tls, 'http.tls', handler, logger, { http2: !config.http.http2.disabled });
  const server = listener.server;
  // HTTP/1 only (an HTTP/2 server reads them for its HTTP/1.1 side). Node's 300 s request timeout
  // would kill slow, large uploads; headers must still arrive promptly.
  Object.assign(server, { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: config.http.keepalivetimeout });
  // Both protocols: a connection (HTTP/2: a session) that moves no bytes for this long is closed.
  server.setTimeout(config.http.idletimeout);
  // A session carries many streams, so one stalled upload would hide behind the others' traffic:
  // each HTTP/2 stream gets the same limit on its own (HTTP/1 servers never emit 'stream').
  server.on('stream', (stream: http2.ServerHttp2Stream) => stream.setTimeout(config.http.idletimeout, () => stream.close(http2.constants.NGHTTP2_CANCEL)));
  return listener;
}
