import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { OciError } from '../oci/errors';
import { faultMessage, storageFault, type StorageFault, type StorageFaultKind } from '../storage-faults';
import { stateOf } from './request-state';

export type ErrorSink = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/** Told of each request a storage fault failed (logging, metrics and readiness live there). */
export type FaultSink = (fault: StorageFault, context: { reqId: string; method?: string; route?: string }) => void;

/**
 * How each kind of storage fault is answered. A full disk or quota will not heal by itself, so it
 * gets 507 Insufficient Storage and no Retry-After; the others are 503 with a hint of when to retry
 * (a read-only mount is usually maintenance, running out of descriptors passes with the load, an
 * unreachable object store is usually restarting).
 */
const FAULT_ANSWERS: Record<StorageFaultKind, { status: number; retryAfter?: number }> = {
  full: { status: 507 },
  'read-only': { status: 503, retryAfter: 60 },
  busy: { status: 503, retryAfter: 1 },
  io: { status: 503, retryAfter: 30 },
  // A restarting or failing-over object store is typically back within seconds.
  unavailable: { status: 503, retryAfter: 10 },
};

/**
 * Renders every error as the spec's JSON body: a storage fault as UNAVAILABLE naming its cause
 * (reported to `onFault`), anything else that is not an OciError as a logged 500.
 */
export function renderError(logger: Logger, onFault: FaultSink): ErrorSink {
  return (req, res, err) => {
    const fault = err instanceof OciError ? undefined : storageFault(err);
    const oci = fault ? faultError(fault) : toOciError(err);
    const state = stateOf(res);
    if (fault) onFault(fault, { reqId: state.reqId, method: req.method, route: state.route });
    else if (oci.status >= 500) logger.error({ err, reqId: state.reqId }, 'request failed');
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
export function errorRenderer(logger: Logger, onFault: FaultSink) {
  const render = renderError(logger, onFault);
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => render(req, res, err);
}

function faultError(fault: StorageFault): OciError {
  const { status, retryAfter } = FAULT_ANSWERS[fault.kind];
  const headers: Record<string, string> = retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) };
  return new OciError('UNAVAILABLE', { cause: fault.code }, { status, message: faultMessage(fault), headers });
}

function toOciError(err: unknown): OciError {
  if (err instanceof OciError) return err;
  const e = err as { type?: string; status?: number; code?: string };
  // Errors raised by Node/express while parsing the request are the client's fault.
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return new OciError('UNSUPPORTED', undefined, { status: e.status, message: 'bad request' });
  return new OciError('UNKNOWN');
}
