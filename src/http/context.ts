import type { Request, Response } from 'express';
import type { Grant } from '../../auth';
import type { Registry } from '../oci/registry';
import type { RouteAuthorizer } from './auth-adapter';

export interface HttpOptions {
  deleteEnabled: boolean;
  readOnly: boolean;
  manifestMaxSize: number;
  redirect: boolean;
  host?: string;
  relativeUrls: boolean;
  /** Decides access per request (auth/); absent: everything is allowed. */
  authorize?: RouteAuthorizer;
}

/** What a route handler gets: the request, its path parameters and query, and the registry. */
export interface RouteContext {
  req: Request;
  res: Response;
  /** Validated repository name ('' for routes without one). */
  name: string;
  /** The path segment after the route's keyword: reference, digest or upload id. */
  param: string;
  query: URLSearchParams;
  registry: Registry;
  options: HttpOptions;
  signal: AbortSignal;
  /** What the caller may do beyond the route's own access (a mount's source, the full catalog). */
  grant: Grant;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>;

/** Ends a response with no body but with the headers given (Content-Length: 0). */
export function sendEmpty(res: Response, status: number, headers: Record<string, string | number> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', 0);
  res.end();
}

export function sendJson(ctx: RouteContext, status: number, value: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  const body = Buffer.from(JSON.stringify(value));
  ctx.res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) ctx.res.setHeader(k, v);
  ctx.res.setHeader('Content-Type', contentType);
  ctx.res.setHeader('Content-Length', body.length);
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : body);
}
