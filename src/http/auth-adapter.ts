import type { IncomingMessage } from 'node:http';
import {
  AccessDenied,
  accessForRoute,
  CATALOG_ACCESS,
  Challenge,
  TooManyAttempts,
  type Access,
  type AccessController,
  type Grant,
  type RequestLike,
} from '../../auth';
import { OciError } from '../oci/errors';
import { validateName } from '../oci/names';
import { baseUrl } from './urls';

/** Asks auth/ whether a /v2 request may proceed; src/http/router.ts calls it once per request. */
export type RouteAuthorizer = (req: IncomingMessage, route: string, repository: string) => Promise<Grant>;

export const ALLOW_ALL: Grant = { subject: null, allows: () => true, canList: () => true };

export function requestLike(req: IncomingMessage): RequestLike {
  // The socket's address, not X-Forwarded-For: a client could forge that header to dodge rate limits.
  return { method: req.method ?? 'GET', headers: req.headers, remote: req.socket.remoteAddress ?? 'unknown' };
}

/** auth/'s refusals as the spec's errors (401 with WWW-Authenticate, 403, 429 with Retry-After). */
export function toOciError(err: unknown): unknown {
  if (err instanceof Challenge) return new OciError('UNAUTHORIZED', undefined, { headers: { 'WWW-Authenticate': err.header } });
  if (err instanceof AccessDenied) return new OciError('DENIED');
  if (err instanceof TooManyAttempts) return new OciError('TOOMANYREQUESTS', undefined, { headers: { 'Retry-After': String(err.retryAfterSeconds) } });
  return err;
}

/**
 * Access a request can use without needing it: the full catalog, or pull on a mount's source. Naming
 * it in the challenge lets clients that take their scopes from challenges (containerd, the
 * conformance suite) ask for it too; without it a mount falls back to an upload (src/http/upload-routes.ts).
 */
function optionalAccess(req: IncomingMessage, route: string): Access[] | undefined {
  if (route === 'catalog') return [CATALOG_ACCESS];
  if (route !== 'upload-start' || req.method !== 'POST') return undefined;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const from = query.get('from');
  if (query.get('mount') === null || from === null) return undefined;
  try {
    return [{ type: 'repository', name: validateName(from), actions: ['pull'] }];
  } catch {
    return undefined;
  }
}

/** Undefined when auth is off, so routes can tell an open registry from an allowing grant. */
export function createAuthorizer(controller: AccessController, opts: { host?: string; tokenPath: string }): RouteAuthorizer | undefined {
  if (controller.mode === 'none') return undefined;
  return async (req, route, repository) => {
    try {
      return await controller.authorize(requestLike(req), accessForRoute(route, req.method ?? 'GET', repository), {
        optional: optionalAccess(req, route),
        realm: `${baseUrl(req, { host: opts.host, relative: false })}${opts.tokenPath}`,
      });
    } catch (err) {
      throw toOciError(err);
    }
  };
}
