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

/** GETs `url`; resolves to undefined on a 200, otherwise to why not (never rejects). */
export function probeHealth(url: string, timeoutMs = HEALTHCHECK_TIMEOUT_MS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const answered = (res: http.IncomingMessage) => {
      res.resume();
      done(res.statusCode === 200 ? undefined : `answered ${res.statusCode}`);
    };
    // The probe reaches this host's own listener on loopback, a name the certificate never carries:
    // it checks that the server answers, not who it is.
    const req = url.startsWith('https:') ? https.get(url, { agent: false, rejectUnauthorized: false }, answered) : http.get(url, { agent: false }, answered);
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    function done(why: string | undefined) {
      clearTimeout(timer);
      req.destroy();
      resolve(why);
    }
  });
}
