import type { RegistryRouteName } from '../http/router';
import { DomainError } from '../oci/errors';
import { validateName } from '../oci/names';
import type { Mirror } from './mirrors';

/** A request for a mirrored repository. */
export interface MirrorRoute {
  kind: 'mirror';
  mirror: Mirror;
  /** The repository's name at the upstream. */
  upstreamRepository: string;
  /** Where its cached content lives in this registry's storage: `<prefix>/<upstreamRepository>`. */
  localRepository: string;
  /**
   * Set when `?ns=` chose the mirror: the response carries it as `OCI-Namespace` (distribution-spec,
   * "Registry Proxying"), the value as the client sent it.
   */
  namespace?: string;
}

/**
 * A local repository. With `fallback`, a pull whose repository does not exist here is the default
 * mirror's (docker's registry-mirrors); the handler decides, since only storage knows what exists.
 */
export interface LocalRoute {
  kind: 'local';
  fallback?: MirrorRoute;
}

export type Route = MirrorRoute | LocalRoute;

function isUnder(name: string, prefix: string): boolean {
  return prefix === '' || name.startsWith(`${prefix}/`);
}

/** The mirror whose prefix a repository's name is under (the proxy's empty prefix takes all). */
export function mirrorOf(name: string, mirrors: readonly Mirror[]): Mirror | undefined {
  return mirrors.find((m) => isUnder(name, m.prefix));
}

function target(mirror: Mirror, nameAtMirror: string, namespace?: string): MirrorRoute {
  // Docker Hub's own shorthand: `nginx` is `library/nginx`, so both spellings share one cache.
  const upstreamRepository = mirror.dockerhub && !nameAtMirror.includes('/') ? `library/${nameAtMirror}` : nameAtMirror;
  const localRepository = mirror.prefix === '' ? upstreamRepository : `${mirror.prefix}/${upstreamRepository}`;
  // The request's name was valid; the prefix may make it too long for storage.
  validateName(localRepository);
  return { kind: 'mirror', mirror, upstreamRepository, localRepository, ...(namespace === undefined ? {} : { namespace }) };
}

/**
 * Which upstream, if any, serves the repository `name` (from the URL) when the client sent `ns`.
 *
 * 1. `ns` naming a mirror's namespace (containerd, CRI via hosts.toml): that mirror, with `name`
 *    relative to it, unless the client also put the mirror's prefix in the path (override_path).
 * 2. `name` under a prefix (podman's `location = "berth/docker.io"`, or a plain pull of
 *    `berth/docker.io/library/nginx`): that mirror, `name` less the prefix. The proxy's empty prefix
 *    takes every name.
 * 3. Otherwise local. When no `ns` was sent, the default mirror is the fallback for pulls of names
 *    that are no local repository (docker's registry-mirrors sends `library/nginx`, never `ns`). An
 *    `ns` naming no mirror is ignored, as the spec allows: it is usually this registry's own name
 *    under another host (kind's `localhost:5001`), and the default mirror would answer for a
 *    registry the client did not ask for.
 */
export function routeRepository(name: string, ns: string | undefined, mirrors: readonly Mirror[]): Route {
  const sent = ns === '' ? undefined : ns;
  if (sent !== undefined) {
    const wanted = sent.toLowerCase();
    const byNs = mirrors.find((m) => m.namespaces.includes(wanted));
    if (byNs) return target(byNs, byNs.prefix !== '' && isUnder(name, byNs.prefix) ? name.slice(byNs.prefix.length + 1) : name, sent);
  }
  if (mirrors.some((m) => m.prefix !== '' && name === m.prefix))
    throw new DomainError('name-invalid', { name }, `${name} is a mirror's prefix, not a repository: name one under it, e.g. ${name}/library/nginx`);
  const byPrefix = mirrorOf(name, mirrors);
  if (byPrefix) return target(byPrefix, byPrefix.prefix === '' ? name : name.slice(byPrefix.prefix.length + 1));
  const fallback = sent === undefined ? mirrors.find((m) => m.default) : undefined;
  return fallback ? { kind: 'local', fallback: target(fallback, name) } : { kind: 'local' };
}

/** The endpoints that address a repository. */
export type RepositoryEndpoint = Exclude<RegistryRouteName, 'base' | 'catalog' | 'insight-storage'>;

/**
 * What a mirrored repository serves: pulls only, as Distribution's proxy. Its content is the
 * upstream's, so a push would be overwritten by (or hide) the upstream's, and a delete would be
 * undone by the next pull while the spec promises a 404 after it; uploads never start.
 */
export const MIRROR_METHODS: Readonly<Record<RepositoryEndpoint, readonly string[]>> = {
  manifest: ['GET', 'HEAD'],
  blob: ['GET', 'HEAD'],
  tags: ['GET'],
  referrers: ['GET'],
  // Insight reports on what the mirror has cached, read-only like every pull.
  insight: ['GET'],
  'insight-files': ['GET'],
  // The UI's reads of what the mirror has cached.
  'tag-details': ['GET'],
  usage: ['GET'],
  // Its answer says a mirrored repository takes no deletes.
  access: ['GET'],
  'upload-start': [],
  upload: [],
};

/**
 * The error for a request a mirrored repository refuses, undefined when it serves it: UNSUPPORTED
 * (405) with the methods the endpoint still takes, as a read-only registry answers. A cross-repository
 * mount *from* a mirrored repository is a read of it and is the target repository's to decide.
 */
export function mirrorRefusal(endpoint: RepositoryEndpoint, method: string, route: MirrorRoute): DomainError<'read-only'> | undefined {
  const allow = MIRROR_METHODS[endpoint];
  if (allow.includes(method)) return undefined;
  const what = route.mirror.prefix === '' ? 'this registry is a pull-through cache' : `${route.localRepository} is in the pull-through mirror ${route.mirror.prefix}`;
  return new DomainError('read-only', { allow: [...allow] }, `${what}: pull-only`);
}

/**
 * The mirror's local name a pull of `name` sent without `ns` is authorized on, when it is not `name`
 * itself: the default mirror's (`library/nginx` is `docker.io/library/nginx`) or Docker Hub's
 * shorthand under a prefix (`docker.io/nginx`). A client that asks its token for the name it pulls,
 * ignoring the challenge's scope (docker), needs the token server to grant this name too.
 */
export function pullAliasOf(name: string, mirrors: readonly Mirror[]): string | undefined {
  let route: Route;
  try {
    route = routeRepository(name, undefined, mirrors);
  } catch (err) {
    // A name no pull could be routed by (a bare prefix, or too long under one) has no alias.
    if (err instanceof DomainError) return undefined;
    throw err;
  }
  const local = route.kind === 'mirror' ? route.localRepository : route.fallback?.localRepository;
  return local === name ? undefined : local;
}
