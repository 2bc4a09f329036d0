import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Config } from './config/schema';
import { watchFiles, type FileWatch } from './tls/file-watch';
import { loadTls } from './tls/tls-files';

export type Listener = http.Server | https.Server;

export interface RegistryListener {
  server: Listener;
  tls: boolean;
  /** Stops watching the certificate files. */
  close(): void;
}

/**
 * The registry's server: HTTPS when http.tls.certificate is set (a TlsSetupError names the bad key),
 * plain HTTP otherwise. With TLS, the files are watched and a new pair replaces the served one for
 * new connections; open connections keep theirs. A pair that does not load (half written) keeps the
 * previous one and is logged.
 */
export async function createListener(config: Config, handler: http.RequestListener, logger: Logger): Promise<RegistryListener> {
  const tls = config.http.tls?.certificate === undefined ? undefined : config.http.tls;
  let server: Listener;
  let watch: FileWatch | undefined;
  if (tls === undefined) {
    server = http.createServer(handler);
  } else {
    const loaded = await loadTls(tls);
    const mutual = tls.clientcas !== undefined;
    const secure = https.createServer({ ...loaded.options, requestCert: mutual, rejectUnauthorized: mutual }, handler);
    server = secure;
    logger.info({ certificate: tls.certificate, fingerprint: loaded.fingerprint, clientAuth: mutual }, 'tls certificate loaded');
    const files = [tls.certificate!, tls.key!, ...(tls.clientcas ?? [])];
    watch = watchFiles(files, {
      intervalMs: tls.reloadinterval,
      onChange: async () => {
        try {
          const next = await loadTls(tls);
          secure.setSecureContext(next.options);
          logger.info({ certificate: tls.certificate, fingerprint: next.fingerprint }, 'tls certificate reloaded');
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'tls files changed but do not load: still serving the previous certificate');
        }
      },
    });
  }
  // Node's 300 s request timeout would kill slow, large uploads; headers must still arrive promptly.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = config.http.keepalivetimeout;
  server.timeout = config.http.idletimeout;
  return { server, tls: tls !== undefined, close: () => watch?.close() };
}
