import type { IncomingMessage, ServerResponse } from 'node:http';
import { OciError } from '../oci/errors';
import { validateName } from '../oci/names';
import type { Registry } from '../oci/registry';
import { Context, type HttpOptions, type RouteHandler } from './context';
import type { ErrorSink } from './error-renderer';
import { stateOf } from './request-state';
import { deleteBlob, getBlob } from './blob-routes';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './upload-routes';
import { deleteManifest, getManifest, putManifest } from './manifest-routes';
import { base, catalog, listReferrers, listTags } from './listing-routes';
import { ALLOW_ALL } from './auth-adapter';

interface Route {
  /** Route name for logs and metrics. */
  name: string;
  pattern: RegExp;
  /** Whether group 1 is a repository name. */
  named: boolean;
  methods: Partial<Record<string, RouteHandler>>;
}

// Order matters: `/blobs/uploads/` must win over `/blobs/<digest>`.
const ROUTES: Route[] = [
  { name: 'base', pattern: /^\/v2\/?$/, named: false, methods: { GET: base, HEAD: base } },
  { name: 'catalog', pattern: /^\/v2\/_catalog$/, named: false, methods: { GET: catalog } },
  { name: 'tags', pattern: /^\/v2\/(.+)\/tags\/list$/, named: true, methods: { GET: listTags } },
  {
    name: 'manifest',
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    named: true,
    methods: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  },
  { name: 'upload-start', pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, named: true, methods: { POST: startUpload } },
  {
    name: 'upload',
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    named: true,
    methods: { GET: uploadStatus, PATCH: patchUpload, PUT: completeUpload, DELETE: cancelUpload },
  },
  { name: 'blob', pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/, named: true, methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob } },
  { name: 'referrers', pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, named: true, methods: { GET: listReferrers } },
];

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new OciError('NAME_INVALID', undefined, { message: 'malformed percent-encoding in path' });
  }
}

export interface MatchedRoute {
  route: Route;
  name: string;
  param: string;
}

export function matchRoute(path: string): MatchedRoute | undefined {
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    return route.named ? { route, name: decode(m[1]), param: decode(m[2] ?? '') } : { route, name: '', param: '' };
  }
  return undefined;
}

/**
 * The /v2 API: one dispatcher over the route table, on plain node requests (express's per-request
 * wrapping costs more than a cached manifest GET itself). Every failure goes to `onError`.
 */
export function v2Dispatcher(registry: Registry, options: HttpOptions, onError: ErrorSink) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      // Not new URL(): it resolves `..` (even encoded) and would address another repository.
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const pathname = q < 0 ? raw : raw.slice(0, q);
      const matched = matchRoute(pathname);
      if (!matched) throw new OciError('UNSUPPORTED', { path: pathname.slice(0, 300) }, { status: 404, message: 'no such endpoint' });
      const state = stateOf(res);
      state.route = matched.route.name;
      state.onRoute?.(matched.route.name);
      const handler = matched.route.methods[req.method ?? ''];
      if (!handler) {
        const allow = Object.keys(matched.route.methods).join(', ');
        throw new OciError('UNSUPPORTED', { method: req.method }, { message: `method ${req.method} not allowed`, headers: { Allow: allow } });
      }
      if (matched.route.named) validateName(matched.name);
      const grant = options.authorize ? await options.authorize(req, matched.route.name, matched.name) : ALLOW_ALL;
      // After auth: an anonymous client learns nothing of the registry's settings.
      // As in Distribution, whose read-only routes do not register their write methods: a 405 whose
      // Allow lists the reads the route still takes.
      if (WRITES.has(req.method ?? '') && options.readOnly) {
        const allow = Object.keys(matched.route.methods).filter((m) => !WRITES.has(m)).join(', ');
        throw new OciError('UNSUPPORTED', undefined, { message: 'the registry is in read-only mode', headers: { Allow: allow } });
      }
      if (req.method === 'DELETE' && !options.deleteEnabled)
        throw new OciError('UNSUPPORTED', undefined, { message: 'deletes are disabled on this registry' });
      await handler(new Context(req, res, matched.name, matched.param, q < 0 ? '' : raw.slice(q + 1), registry, options, grant));
    } catch (err) {
      onError(req, res, err);
    }
  };
}
