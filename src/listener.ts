import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Config } from './config/schema';
import type { TlsConfig } from './config/tls-schema';
import { logClientCertificateRefusals } from './tls/client-refusals';
import { fileSignature, watchFiles, type FileWatch } from './tls/file-watch';
import { loadTls } from './tls/tls-files';

export type Listener = http.Server | https.Server;

export interface ServedListener {
  server: Listener;
  tls: boolean;
  /** Stops watching the certificate files. */
  close(): void;
}

/**
 * A server for `handler`: HTTPS when `tls.certificate` is set (a TlsSetupError names the bad key
 * under `section`), plain HTTP otherwise. With TLS, the files are watched and a new pair replaces
 * the served one for new connections; open connections keep theirs. A pair that does not load
 * (half written) keeps the previous one and is logged.
 */
export async function createServer(tls: TlsConfig | undefined, section: string, handler: http.RequestListener, logger: Logger): Promise<ServedListener> {
  if (tls?.certificate === undefined) return { server: http.createServer(handler), tls: false, close: () => undefined };
  const files = [tls.certificate, tls.key!, ...(tls.clientcas ?? [])];
  // Before the load: a rotation landing between the load and the watch is then seen as a change.
  const since = await fileSignature(files);
  const loaded = await loadTls(tls, section);
  const mutual = tls.clientcas !== undefined;
  const server = https.createServer({ ...loaded.options, requestCert: mutual, rejectUnauthorized: mutual }, handler);
  const log = logger.child({ tls: section });
  log.info({ certificate: tls.certificate, fingerprint: loaded.fingerprint, clientAuth: mutual }, 'tls certificate loaded');
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
  return { server, tls: true, close: () => watch.close() };
}

/** The registry's own listener (http.addr, http.tls) with its timeouts. */
export async function createListener(config: Config, handler: http.RequestListener, logger: Logger): Promise<ServedListener> {
  const listener = await createServer(config.http.tls, 'http.tls', handler, logger);
  const server = listener.server;
  // Node's 300 s request timeout would kill slow, large uploads; headers must still arrive promptly.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = config.http.keepalivetimeout;
  server.timeout = config.http.idletimeout;
  return listener;
}
