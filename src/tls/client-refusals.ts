import type { Socket } from 'node:net';
import type { Server, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

/** At most `burst` lines per `windowMs`; what is held back is summed up in one line at the window's end. */
export interface RefusalLogLimits {
  burst: number;
  windowMs: number;
}

const LIMITS: RefusalLogLimits = { burst: 5, windowMs: 10_000 };

/**
 * Logs client certificates the listener refuses (`rejectUnauthorized`), with OpenSSL's reason
 * (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...) and the peer address. Node drops such a
 * connection without an alert, so the client only sees a reset; its 'tlsClientError' then carries
 * the socket whose `authorizationError` says why. Verification stays Node's, so a client without a
 * certificate still gets TLS 1.3's `certificate required` alert (and is not logged: it is told).
 */
export function logClientCertificateRefusals(server: Server, log: Logger, limits: RefusalLogLimits = LIMITS): void {
  // The peer address is read while the connection is up; once Node drops it, only the cached one remains.
  server.on('connection', (raw: Socket) => void raw.remoteAddress);
  const note = limiter(log, limits);
  server.on('tlsClientError', (_err: Error, socket: TLSSocket) => {
    const reason = socket.authorizationError;
    if (reason === null || reason === undefined) return;
    // The TLS socket's own address is gone with its handle; the TCP socket beneath kept it.
    const remote = (socket as TLSSocket & { _parent?: Socket })._parent?.remoteAddress ?? socket.remoteAddress ?? 'unknown';
    note(String(reason), remote);
  });
}

function limiter(log: Logger, limits: RefusalLogLimits): (reason: string, remote: string) => void {
  let logged = 0;
  let held: Record<string, number> = {};
  let suppressed = 0;
  let window: NodeJS.Timeout | undefined;
  const close = () => {
    if (suppressed > 0) log.warn({ suppressed, reasons: held, windowMs: limits.windowMs }, 'more client certificates refused');
    logged = 0;
    suppressed = 0;
    held = {};
    window = undefined;
  };
  return (reason, remote) => {
    if (window === undefined) {
      window = setTimeout(close, limits.windowMs);
      window.unref();
    }
    if (logged < limits.burst) {
      logged++;
      log.warn({ reason, remote }, 'client certificate refused');
      return;
    }
    suppressed++;
    held[reason] = (held[reason] ?? 0) + 1;
  };
}
