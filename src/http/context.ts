import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InsightServices } from '../insight/layer-analysis';
import type { Grant } from '../../auth';
import type { Notifier } from '../events/notifier';
import type { Registry } from '../oci/registry';
import type { MirrorService } from '../mirror/mirror-service';
import type { MirrorRoute } from '../mirror/routing';
import type { RouteAuthorizer } from './auth-adapter';
import { responseClosed, responseCompleted } from './protocol';

export interface HttpOptions {
  deleteEnabled: boolean;
  readOnly: boolean;
  manifestMaxSize: number;
  /** validation.manifests.maxdescriptors */
  manifestMaxDescriptors: number;
  redirect: boolean;
  host?: string;
  relativeUrls: boolean;
  /** Decides access per request (auth/); absent: everything is allowed. */
  authorize?: RouteAuthorizer;
  /** Where events go (notifications.endpoints); absent: none are recorded. */
  notifier?: Notifier;
  /** The pull-through mirrors (mirrors, proxy); absent when none is configured. */
  mirrors?: MirrorService;
  /** Image insight (src/insight); absent when insight.enabled is false. */
  insight?: InsightServices;
}

/** What a route handler gets: the request, its path parameters and query, and the registry. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
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
  /** Set when the repository is a mirror's: `name` is then its local name (`<prefix>/<upstream name>`). */
  mirror?: MirrorRoute;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>;

/**
 * The query and the abort signal are built on first use: most requests (manifest and blob reads)
 * need neither, and at tens of thousands of requests a second their cost shows.
 */
export class Context implements RouteContext {
  private parsedQuery?: URLSearchParams;
  private abort?: AbortController;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly name: string,
    readonly param: string,
    private readonly rawQuery: string,
    readonly registry: Registry,
    readonly options: HttpOptions,
    readonly grant: Grant,
    readonly mirror?: MirrorRoute,
  ) {}

  get query(): URLSearchParams {
    return (this.parsedQuery ??= new URLSearchParams(this.rawQuery));
  }

  /** Aborts when the client goes away before the response is complete. */
  get signal(): AbortSignal {
    if (!this.abort) {
      const abort = new AbortController();
      this.abort = abort;
      const res = this.res;
      if (responseClosed(res)) {
        if (!responseCompleted(res)) abort.abort();
      } else {
        res.once('close', () => {
          if (!responseCompleted(res)) abort.abort();
        });
      }
    }
    return this.abort.signal;
  }
}

/** Ends a response with no body but with the headers given (Content-Length: 0). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number | string[]> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', 0);
  res.end();
}

/** Ends a response with `value` as JSON: the one writer of JSON bodies (routes, probes, tokens, errors). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}, contentType = 'application/json'): void {
  const body = Buffer.from(JSON.stringify(value));
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', body.length);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
