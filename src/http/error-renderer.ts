import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { OciError } from '../oci/errors';
import { stateOf } from './request-state';

export type ErrorSink = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/** Renders every error as the spec's JSON body; anything that is not an OciError is a logged 500. */
export function renderError(logger: Logger): ErrorSink {
  return (req, res, err) => {
    const oci = toOciError(err);
    if (oci.status >= 500) logger.error({ err, reqId: stateOf(res).reqId }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ errors: [oci.toJSON()] });
    res.statusCode = oci.status;
    for (const [k, v] of Object.entries(oci.headers)) res.setHeader(k, v);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    // An unread body of unknown size is not worth draining: close the connection instead.
    const hasBody = Number(req.headers['content-length']) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.complete) res.setHeader('Connection', 'close');
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** The same rendering as express error middleware, for the routes express still serves. */
export function errorRenderer(logger: Logger) {
  const render = renderError(logger);
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => render(req, res, err);
}

function toOciError(err: unknown): OciError {
  if (err instanceof OciError) return err;
  const e = err as { type?: string; status?: number; code?: string };
  // Errors raised by Node/express while parsing the request are the client's fault.
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return new OciError('UNSUPPORTED', undefined, { status: e.status, message: 'bad request' });
  return new OciError('UNKNOWN');
}
