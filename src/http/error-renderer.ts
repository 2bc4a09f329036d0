import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthSetupError } from '../../auth';
import { DomainError } from '../oci/errors';
import { storageFault, type StorageFault } from '../storage-faults';
import { sendJson } from './context';
import { answerFor, faultAnswer } from './error-table';
import { stateOf } from './request-state';
import { hasRequestBody, isHttp2 } from './protocol';
import { RepeatThrottle } from './repeat-throttle';

export type ErrorSink = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/** Told of each request a storage fault failed (logging, metrics and readiness live there). */
export type FaultSink = (fault: StorageFault, context: { reqId: string; method?: string; route?: string }) => void;

/**
 * Renders every error as the spec's JSON body, as src/http/error-table.ts answers it: a storage
 * fault as UNAVAILABLE naming its cause (reported to `onFault`), anything unforeseen as a logged 500.
 */
export function renderError(logger: Logger, onFault: FaultSink, setupThrottle = new RepeatThrottle()): ErrorSink {
  return (req, res, err) => {
    const fault = err instanceof DomainError ? undefined : storageFault(err);
    const answer = fault ? faultAnswer(fault) : answerFor(err);
    const state = stateOf(res);
    if (fault) onFault(fault, { reqId: state.reqId, method: req.method, route: state.route });
    else if (err instanceof AuthSetupError) logSetupFailure(logger, setupThrottle, err, state.reqId);
    else if (answer.status >= 500) logger.error({ err, reqId: state.reqId }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // An unread body of unknown size is not worth draining: close the connection instead. HTTP/2
    // needs nothing: the stream is reset (NO_ERROR) once the response is sent, the session goes on.
    const headers = hasRequestBody(req) && !req.complete && !isHttp2(res) ? { ...answer.headers, Connection: 'close' } : answer.headers;
    sendJson(res, answer.status, { errors: [answer.error] }, headers, 'application/json; charset=utf-8');
  };
}

/** Once a minute per distinct failure, with how many requests failed the same way in between. */
function logSetupFailure(logger: Logger, throttle: RepeatThrottle, err: AuthSetupError, reqId: string): void {
  const passed = throttle.pass(err.message);
  if (!passed) return;
  // The errno says it all; a stack through stat() would say nothing more.
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  logger.error({ key: err.key, code, reqId, ...(passed.suppressed > 0 && { suppressed: passed.suppressed }) }, `auth set-up failed: ${err.message}`);
}
