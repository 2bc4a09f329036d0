import type { IncomingMessage } from 'node:http';

export interface UrlOptions {
  /** Configured external base URL (http.host). */
  host?: string;
  relative: boolean;
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.split(',')[0].trim() || undefined;
}

/** The authority the client addressed: Host, or HTTP/2's `:authority` (Node's compatibility API adds no Host). */
export function requestHost(req: IncomingMessage): string | undefined {
  const authority = req.headers.host ?? req.headers[':authority'];
  return typeof authority === 'string' ? authority : undefined;
}

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The base clients should use for Location: the configured host, else what the proxy in front
 * says (X-Forwarded-Proto/Host), else the request's own Host. Malformed forwarded values are
 * ignored rather than echoed into a header.
 */
export function baseUrl(req: IncomingMessage, opts: UrlOptions): string {
  if (opts.host) return opts.host.replace(/\/+$/, '');
  if (opts.relative) return '';
  const fproto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
  const proto = fproto === 'http' || fproto === 'https' ? fproto : 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  const fhost = first(req.headers['x-forwarded-host']);
  const own = requestHost(req);
  const host = fhost && HOST.test(fhost) ? fhost : own && HOST.test(own) ? own : 'localhost';
  return `${proto}://${host}`;
}

/**
 * A request target's path, without its query. Not new URL(): it resolves `..` (even encoded) and
 * would address another repository.
 */
export function urlPath(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** A request target's query string, without the `?` ('' when it has none). */
export function urlQuery(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

export function searchParams(url: string): URLSearchParams {
  return new URLSearchParams(urlQuery(url));
}
