import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Assigns the request id (the client's X-Request-Id when it is sane) and writes one access line
 * per request when it ends.
 */
export function accessLog(logger: Logger, enabled: boolean) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.headers['x-request-id'];
    const reqId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.reqId = reqId;
    res.setHeader('X-Request-Id', reqId);
    if (enabled) {
      // Read now: once the connection is gone, req.socket is null.
      const remote = req.socket?.remoteAddress;
      const started = process.hrtime.bigint();
      res.once('close', () => {
        logger.info(
          {
            reqId,
            method: req.method,
            // The logger's `url` serializer removes the `_state` capability.
            url: req.originalUrl,
            route: res.locals.route,
            status: res.statusCode,
            completed: res.writableFinished,
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            remote,
            userAgent: req.headers['user-agent'],
          },
          'request',
        );
      });
    }
    next();
  };
}
