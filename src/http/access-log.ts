import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RequestState } from './request-state';
import { clientOf } from './client-address';
import { responseCompleted } from './protocol';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Something that watches every request from its start (access log, metrics). */
export type RequestObserver = (req: IncomingMessage, res: ServerResponse, state: RequestState) => void;

/** The client's X-Request-Id when it is sane, a fresh one otherwise. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Writes one access line per request when it ends. */
export function accessLog(logger: Logger): RequestObserver {
  return (req, res, state) => {
    // Read now: once the connection is gone, req.socket is null.
    const { ip: remote, proxy } = clientOf(req);
    const started = process.hrtime.bigint();
    res.once('close', () => {
      logger.info(
        {
          reqId: state.reqId,
          method: req.method,
          // The logger's `url` serializer removes the `_state` capability.
          url: req.url,
          route: state.route,
          status: res.statusCode,
          completed: responseCompleted(res),
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          remote,
          proxy,
          user: state.user,
          userAgent: req.headers['user-agent'],
          // 1.1 or 2.0: which clients took HTTP/2 over TLS.
          httpVersion: req.httpVersion,
        },
        'request',
      );
    });
  };
}
