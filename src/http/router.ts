import type { IncomingMessage, ServerResponse } from 'node:http';
import { DomainError } from '../oci/errors';
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
import { getInsight, getInsightFiles, getStorageView, headStorageView } from './insight-routes';
import { getImageFiles } from './insight-dir-routes';
import { getUsage, listTagDetails } from './detail-routes';
import { getAccess } from './access-routes';
import type { Mirror } from '../mirror/mirrors';
import { urlPath, urlQuery } from './urls';
import { getMirroredBlob, getMirroredManifest, listMirroredReferrers, listMirroredTags, orMirror } from './mirror-routes';
import { mirrorRefusal, routeRepository, type MirrorRoute, type RepositoryEndpoint } from '../mirror/routing';

/** The registry's routes (under /v2), as logs, metrics and auth/ name them. */
export type RegistryRouteName =
  | 'base'
  | 'catalog'
  | 'tags'
  | 'manifest'
  | 'upload-start'
  | 'upload'
  | 'blob'
  | 'referrers'
  /** Berth's image insight (insight-routes.ts): reads of an image, authorized as pulls of it. */
  | 'insight'
  | 'insight-files'
  /** The registry-wide storage view: authorized as the full catalog. */
  | 'insight-storage'
  /** The web UI's reads (detail-routes.ts): tags with details, a repository's bytes; pulls of it. */
  | 'tag-details'
  | 'usage'
  /** What the caller may do to a repository (access-routes.ts): authorized as a pull of it. */
  | 'access';

/** Every route the server has: the registry's, the probes and the token endpoint. */
export type RouteName = RegistryRouteName | 'healthz' | 'readyz' | 'token' | 'ui';

type Methods = Partial<Record<string, RouteHandler>>;

interface Route {
  name: RouteName;
  pattern: RegExp;
  /** Whether group 1 is a repository name. */
  named: boolean;
  /**
   * A /v2 route: named in logs and metrics, authorized, refused in read-only mode or when deletes
   * are off. Probes and the token endpoint are open: no registry auth ever applies to them.
   */
  registry: boolean;
  methods: Methods;
}

function v2(name: RegistryRouteName, pattern: RegExp, named: boolean, methods: Methods): Route {
  return { name, pattern, named, registry: true, methods };
}

// Order matters: `/blobs/uploads/` must win over `/blobs/<digest>`.
const REGISTRY_ROUTES: Route[] = [
  v2('base', /^\/v2\/?$/, false, { GET: base, HEAD: base }),
  v2('catalog', /^\/v2\/_catalog$/, false, { GET: catalog }),
  v2('tags', /^\/v2\/(.+)\/tags\/list$/, true, { GET: orMirror(listTags, listMirroredTags(listTags)) }),
  v2('manifest', /^\/v2\/(.+)\/manifests\/([^/]+)$/, true, {
    GET: orMirror(getManifest, getMirroredManifest),
    HEAD: orMirror(getManifest, getMirroredManifest),
    PUT: putManifest,
    DELETE: deleteManifest,
  }),
  v2('upload-start', /^\/v2\/(.+)\/blobs\/uploads\/?$/, true, { POST: startUpload }),
  v2('upload', /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, true, { GET: uploadStatus, PATCH: patchUpload, PUT: completeUpload, DELETE: cancelUpload }),
  v2('blob', /^\/v2\/(.+)\/blobs\/([^/]+)$/, true, { GET: orMirror(getBlob, getMirroredBlob(getBlob)), HEAD: orMirror(getBlob, getMirroredBlob(getBlob)), DELETE: deleteBlob }),
  v2('referrers', /^\/v2\/(.+)\/referrers\/([^/]+)$/, true, { GET: orMirror(listReferrers, listMirroredReferrers(listReferrers)) }),
  // No repository name has a component starting with `_`, so `_berth` never shadows one.
  v2('insight-storage', /^\/v2\/_berth\/insight\/storage$/, false, { GET: getStorageView, HEAD: headStorageView }),
  v2('insight-files', /^\/v2\/(.+)\/_berth\/insight\/([^/]+\/layers\/[^/]+)\/files$/, true, { GET: getInsightFiles }),
  v2('insight-files', /^\/v2\/(.+)\/_berth\/insight\/([^/]+)\/files$/, true, { GET: getImageFiles }),
  v2('insight', /^\/v2\/(.+)\/_berth\/insight\/([^/]+)$/, true, { GET: getInsight }),
  v2('tag-details', /^\/v2\/(.+)\/_berth\/tags$/, true, { GET: listTagDetails }),
  v2('usage', /^\/v2\/(.+)\/_berth\/usage$/, true, { GET: getUsage }),
  v2('access', /^\/v2\/(.+)\/_berth\/access$/, true, { GET: getAccess }),
];

/** The routes outside /v2; each path also answers with a trailing slash. */
export interface EdgeRoutes {
  healthz: Methods;
  readyz: Methods;
  token?: { path: string; methods: Methods };
  /** The web UI (ui-routes.ts): its path and every path below it. */
  ui?: { path: string; methods: Methods };
}

function exactPath(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/?$`);
}

/** `path` itself and everything below it. */
function underPath(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/.*)?$`);
}

function edgeRoutes(edge: EdgeRoutes): Route[] {
  const open = (name: RouteName, path: string, methods: Methods): Route => ({ name, pattern: exactPath(path), named: false, registry: false, methods });
  const routes = [open('healthz', '/healthz', edge.healthz), open('readyz', '/readyz', edge.readyz)];
  if (edge.token) routes.push(open('token', edge.token.path, edge.token.methods));
  if (edge.ui) routes.push({ name: 'ui', pattern: underPath(edge.ui.path), named: false, registry: false, methods: edge.ui.methods });
  return routes;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** The routes a pull uses: the only ones a default mirror answers for names that are not local. */
const PULLS = new Set<RouteName>(['manifest', 'blob', 'tags', 'referrers']);

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new DomainError('name-invalid', {}, 'malformed percent-encoding in path');
  }
}

interface MatchedRoute {
  route: Route;
  name: string;
  param: string;
}

function match(routes: Route[], path: string): MatchedRoute | undefined {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    return route.named ? { route, name: decode(m[1]), param: decode(m[2] ?? '') } : { route, name: '', param: '' };
  }
  return undefined;
}

/**
 * The mirror serving a repository request, if any (mirror/routing.ts), by its name and `?ns=`. A
 * request routed by `ns` answers with `OCI-Namespace` (distribution-spec, "Registry Proxying").
 * A read of a name that is no local repository falls back to the default mirror, if there is one
 * (docker's registry-mirrors sends `library/nginx`); writes never do, so such names stay pushable.
 */
async function mirrorOf(name: string, raw: string, pull: boolean, mirrors: readonly Mirror[], registry: Registry, res: ServerResponse): Promise<MirrorRoute | undefined> {
  if (mirrors.length === 0) return undefined;
  const ns = new URLSearchParams(urlQuery(raw)).get('ns') ?? undefined;
  const route = routeRepository(name, ns, mirrors);
  if (route.kind === 'local') {
    if (route.fallback === undefined || !pull || (await registry.listing.repositoryExists(name))) return undefined;
    return route.fallback;
  }
  if (route.namespace !== undefined) res.setHeader('OCI-Namespace', route.namespace);
  return route;
}

/**
 * The whole server: one dispatcher over one route table, on plain node requests. No framework: its
 * per-request wrapping was measured to cost more than a cached manifest GET itself. Every failure
 * goes to `onError` (the one error renderer), unknown paths included.
 */
export function createDispatcher(registry: Registry, options: HttpOptions, edge: EdgeRoutes, onError: ErrorSink) {
  // The registry's routes first: the hot path never tests the others.
  const routes = [...REGISTRY_ROUTES, ...edgeRoutes(edge)];
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const raw = req.url ?? '/';
      const pathname = urlPath(raw);
      const matched = match(routes, pathname);
      if (!matched) throw new DomainError('route-unknown', { path: pathname.slice(0, 300) }, 'no such endpoint');
      const { route } = matched;
      if (route.registry) {
        const state = stateOf(res);
        state.route = route.name;
        state.onRoute?.(route.name);
      }
      const handler = route.methods[req.method ?? ''];
      if (!handler) throw new DomainError('method-not-allowed', { method: req.method, allow: Object.keys(route.methods) }, `method ${req.method} not allowed`);
      let grant = ALLOW_ALL;
      let name = matched.name;
      let mirror: MirrorRoute | undefined;
      if (route.registry) {
        if (route.named) {
          validateName(name);
          mirror = options.mirrors && (await mirrorOf(name, raw, PULLS.has(route.name) && !WRITES.has(req.method ?? ''), options.mirrors.mirrors, registry, res));
          if (mirror) name = mirror.localRepository;
        }
        // Access is decided on the local name: a policy for docker.io/* governs who pulls through that mirror.
        if (options.authorize) {
          grant = await options.authorize(req, route.name, name);
          stateOf(res).user = grant.subject ?? undefined;
        }
        if (mirror) {
          const refusal = mirrorRefusal(route.name as RepositoryEndpoint, req.method ?? '', mirror);
          if (refusal) throw refusal;
        }
        // After auth: an anonymous client learns nothing of the registry's settings.
        if (WRITES.has(req.method ?? '') && options.readOnly)
          throw new DomainError('read-only', { allow: Object.keys(route.methods).filter((m) => !WRITES.has(m)) }, 'the registry is in read-only mode');
        if (req.method === 'DELETE' && !options.deleteEnabled) throw new DomainError('deletes-disabled', {}, 'deletes are disabled on this registry');
      }
      await handler(new Context(req, res, name, matched.param, urlQuery(raw), registry, options, grant, mirror));
    } catch (err) {
      onError(req, res, err);
    }
  };
}
