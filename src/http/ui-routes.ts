import type { IncomingMessage } from 'node:http';
import { DomainError } from '../oci/errors';
import type { UiBundle, UiFile } from '../ui-server/assets';
import type { RouteContext } from './context';
import type { EdgeRoutes } from './router';
import { urlPath } from './urls';

import { uiCsp } from '../ui-server/csp';

/** The UI's policy when the token endpoint (if any) is on the registry's own origin. */
export const UI_CSP = uiCsp();

function securityHeaders(csp: string): Record<string, string> {
  return { 'Content-Security-Policy': csp, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
}

export interface UiSite {
  /** ui.path, e.g. /ui */
  path: string;
  /** The built files; undefined when the UI was not built (tsc alone). Loaded once, then cached. */
  bundle(): Promise<UiBundle | undefined>;
  /** An external token issuer's origin (csp.ts externalTokenOrigin), which the UI must reach to sign in. */
  tokenOrigin?: string;
}

function notFound(pathname: string, message = 'no such file in the web UI'): DomainError {
  return new DomainError('route-unknown', { path: pathname.slice(0, 300) }, message);
}

/**
 * The key of the file a request names, relative to the UI's path, or undefined for a path that
 * cannot name one: bad percent-encoding, NUL, backslashes, `.` or `..` segments. Files are looked up
 * in a map, never on disk, so nothing can escape it anyway; these are refused so that no such path
 * reaches the client router either.
 */
function fileKey(rest: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  if (/[\0\\]/.test(decoded)) return undefined;
  const segments = decoded.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) return undefined;
  return segments.join('/');
}

function acceptsGzip(req: IncomingMessage): boolean {
  const accept = req.headers['accept-encoding'];
  return typeof accept === 'string' && /(^|,)\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*(,|$))[\d.]+\s*)?(,|$)/i.test(accept);
}

function etagMatches(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === etag || v === '*';
  });
}

function send(ctx: RouteContext, file: UiFile, headers: Record<string, string>): void {
  const { req, res } = ctx;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('Cache-Control', file.cacheControl);
  res.setHeader('ETag', file.etag);
  if (file.gzip) res.setHeader('Vary', 'Accept-Encoding');
  if (etagMatches(req, file.etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const body = file.gzip && acceptsGzip(req) ? file.gzip : file.body;
  if (body === file.gzip) res.setHeader('Content-Encoding', 'gzip');
  res.statusCode = 200;
  res.setHeader('Content-Length', body.length);
  // One buffer already in memory: the socket takes it as is, and a slow client costs no more.
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * GET and HEAD under ui.path: a built file by its name, 404 under `assets/` (a missing script must
 * not be answered with HTML), and index.html for every other path, so that each view's URL (the
 * client router's, History API) loads the UI.
 */
export function uiRoutes(site: UiSite): NonNullable<EdgeRoutes['ui']> {
  const headers = securityHeaders(uiCsp(site.tokenOrigin));
  const serve = async (ctx: RouteContext) => {
    const pathname = urlPath(ctx.req.url ?? '/');
    const bundle = await site.bundle();
    if (!bundle) throw notFound(pathname, 'the web UI is not built on this server (npm run build builds it)');
    const key = fileKey(pathname.slice(site.path.length));
    if (key === undefined) throw notFound(pathname);
    const file = key === 'index.html' ? undefined : bundle.files.get(key);
    if (file) return send(ctx, file, headers);
    if (key.startsWith('assets/')) throw notFound(pathname);
    send(ctx, bundle.index, headers);
  };
  return { path: site.path, methods: { GET: serve, HEAD: serve } };
}
