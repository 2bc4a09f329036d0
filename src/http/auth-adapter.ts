import type { IncomingMessage } from 'node:http';
import { accessForRoute, CATALOG_ACCESS, type Access, type AccessController, type CertificateUserField, type Grant, type RequestLike } from '../../auth';
import { validateName } from '../oci/names';
import { clientOf } from './client-address';
import { certificateUserOf } from './client-certificate';
import type { RouteName } from './router';
import { baseUrl, searchParams } from './urls';

/**
 * Asks auth/ whether a /v2 request may proceed; src/http/router.ts calls it once per request. Its
 * refusals (Challenge, AccessDenied, TooManyAttempts) are answered by src/http/error-table.ts.
 */
export type RouteAuthorizer = (req: IncomingMessage, route: RouteName, repository: string) => Promise<Grant>;

export const ALLOW_ALL: Grant = { subject: null, allows: () => true, canList: () => true };

/** `identity`: http.tls.clientidentity, the field of a verified client certificate that names the user. */
export function requestLike(req: IncomingMessage, identity?: CertificateUserField): RequestLike {
  // X-Forwarded-For only from a trusted proxy (http.trustedproxies): a client could forge it to dodge rate limits.
  return { method: req.method ?? 'GET', headers: req.headers, remote: clientOf(req).ip, certificateUser: certificateUserOf(req, identity) };
}

/**
 * Access a request can use without needing it: the full catalog, or pull on a mount's source. Naming
 * it in the challenge lets clients that take their scopes from challenges (containerd, the
 * conformance suite) ask for it too; without it a mount falls back to an upload (src/http/upload-routes.ts).
 */
function optionalAccess(req: IncomingMessage, route: RouteName): Access[] | undefined {
  if (route === 'catalog') return [CATALOG_ACCESS];
  if (route !== 'upload-start' || req.method !== 'POST') return undefined;
  const query = searchParams(req.url ?? '');
  const from = query.get('from');
  if (query.get('mount') === null || from === null) return undefined;
  try {
    return [{ type: 'repository', name: validateName(from), actions: ['pull'] }];
  } catch {
    return undefined;
  }
}

/** Undefined when auth is off, so routes can tell an open registry from an allowing grant. */
export function createAuthorizer(controller: AccessController, opts: { host?: string; tokenPath: string; clientIdentity?: CertificateUserField }): RouteAuthorizer | undefined {
  if (controller.mode === 'none') return undefined;
  return (req, route, repository) =>
    controller.authorize(requestLike(req, opts.clientIdentity), accessForRoute(route, req.method ?? 'GET', repository), {
      optional: optionalAccess(req, route),
      realm: `${baseUrl(req, { host: opts.host, relative: false })}${opts.tokenPath}`,
    });
}
