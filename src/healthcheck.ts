import http from 'node:http';
import https from 'node:https';
import { formatAddress, parseListenAddress } from './config/listen-address';

/** How long a probe waits: less than the image's HEALTHCHECK --timeout, so the reason gets printed. */
export const HEALTHCHECK_TIMEOUT_MS = 4_000;

/**
 * The liveness URL of a server listening on `addr`, as seen from the same host (the container's
 * HEALTHCHECK runs inside it): a wildcard bind is reached on loopback.
 */
export function healthzUrl(addr: string, tls = false): string {
  const { host, port } = parseListenAddress(addr);
  if (port === 0) throw new Error(`http.addr ${addr}: port 0 is chosen at start-up, so there is no known port to probe`);
  const target = host === undefined || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${tls ? 'https' : 'http'}://${formatAddress(target, port)}/healthz`;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /** PEM client pair to present to a listener that requires one (http.tls.clientcas). */
  client?: { cert: string; key: string };
  /** The listener requires a client certificate (http.tls.clientcas is set). */
  certificateRequired?: boolean;
}

/** `handshakeOnly`: the listener asked for a client certificate the probe did not have (see probeHealth). */
export type ProbeResult = { ok: true; handshakeOnly: boolean } | { ok: false; why: string };

/**
 * GETs `url`: healthy on a 200 (never rejects). A listener that requires a client certificate
 * the probe lacks refuses it with TLS 1.3's `certificate required` alert, sent after the server's
 * whole handshake: that answer counts as alive. /healthz says no more (the process answers), and
 * the handshake is served by the same event loop, so a hung process still fails by timeout.
 */
export function probeHealth(url: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? HEALTHCHECK_TIMEOUT_MS;
  const handshakeOnly = opts.certificateRequired === true && opts.client === undefined;
  return new Promise((resolve) => {
    const answered = (res: http.IncomingMessage) => {
      res.resume();
      done(res.statusCode === 200 ? { ok: true, handshakeOnly: false } : { ok: false, why: `answered ${res.statusCode}` });
    };
    // The probe reaches this host's own listener on loopback, a name the certificate never carries:
    // it checks that the server answers, not who it is. TLS 1.3 when it has no certificate to
    // show: TLS 1.2 ends such a handshake with a generic failure that proves nothing.
    const req = url.startsWith('https:')
      ? https.get(url, { agent: false, rejectUnauthorized: false, ...opts.client, ...(handshakeOnly ? { minVersion: 'TLSv1.3' as const } : {}) }, answered)
      : http.get(url, { agent: false }, answered);
    const timer = setTimeout(() => done({ ok: false, why: `no answer within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (handshakeOnly && err.code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return done({ ok: true, handshakeOnly: true });
      done({ ok: false, why: err.code ?? err.message });
    });
    function done(result: ProbeResult) {
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    }
  });
}
