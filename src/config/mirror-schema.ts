import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { duration } from './duration';

/**
 * The pull-through mirror's configuration: Distribution's `proxy` (the whole registry mirrors one
 * upstream) and Berth's `mirrors` (several upstreams, each under a repository prefix).
 */

/** One component of a repository name (distribution-spec `<name>` grammar). */
const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const PREFIX = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
/** What containerd sends as `ns`: a registry host, with a port when it has one. */
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const NAMESPACE = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::\\d{1,5})?$`);
/** Hosts that are Docker Hub, whose official images live under `library/`. */
const DOCKER_HUB_HOSTS = new Set(['registry-1.docker.io', 'index.docker.io', 'registry.hub.docker.com', 'docker.io']);

export const MIRROR_DEFAULTS = {
  /** Distribution's proxy.ttl: cached content not pulled for this long is evicted. */
  ttl: '168h',
  /** How long a tag's digest is trusted before the upstream is asked again (HEAD). */
  tagttl: '5m',
  /** How long after its last successful check a tag is still served while the upstream fails. */
  stale: '168h',
} as const;

export function isDockerHub(url: string): boolean {
  return DOCKER_HUB_HOSTS.has(new URL(url).hostname.toLowerCase());
}

const issue = (ctx: z.RefinementCtx, path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });

/**
 * An upstream's base URL: http(s), without credentials (which `config check` would print; they go
 * in username and password), query or `/v2` (Berth adds it). A path below the host is kept, for
 * registries served under one. Normalized without its trailing slash.
 */
const upstreamUrl = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    issue(ctx, [], `must be an http or https URL, e.g. https://registry-1.docker.io`);
    return z.NEVER;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') issue(ctx, [], `must be an http or https URL, not ${url.protocol}`);
  else if (url.username !== '' || url.password !== '') issue(ctx, [], 'must not carry credentials: set username and password instead');
  else if (url.search !== '' || url.hash !== '') issue(ctx, [], 'must not have a query or fragment');
  else if (/\/v2\/?$/.test(url.pathname)) issue(ctx, [], "is the registry's base URL: leave out /v2/, Berth adds it");
  else return url.href.replace(/\/+$/, '');
  return z.NEVER;
});

/** Basic credentials for the upstream (also sent to its token realm): both or neither. */
function credentialsTogether(m: { username?: string; password?: string }, ctx: z.RefinementCtx): void {
  if (m.password !== undefined && m.username === undefined) issue(ctx, ['username'], 'required with password');
  if (m.username !== undefined && m.password === undefined) issue(ctx, ['password'], 'required with username');
}

const mirror = z
  .object({
    prefix: z.string().superRefine((p, ctx) => {
      if (p === '') issue(ctx, [], 'must not be empty: to mirror the whole registry, use proxy.remoteurl');
      else if (p.includes(':')) issue(ctx, [], `"${p}" is not a repository name prefix (no ports in names): name the host:port in namespaces instead`);
      else if (!PREFIX.test(p)) issue(ctx, [], `"${p}" is not a repository name prefix: lower-case components of letters, digits and . _ - separated by /, e.g. docker.io`);
    }),
    url: upstreamUrl,
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** PEM bundle of the CAs that sign the upstream's certificate, beside the system's. */
    ca: z.string().min(1).optional(),
    /** Skip verification of the upstream's certificate. */
    insecure: z.boolean().default(false),
    ttl: duration.default(MIRROR_DEFAULTS.ttl),
    /** Bytes the mirror's cached manifests may reference before the least recently pulled are evicted. */
    maxsize: z.number().int().positive().optional(),
    tagttl: duration.default(MIRROR_DEFAULTS.tagttl),
    stale: duration.default(MIRROR_DEFAULTS.stale),
    /** Values of containerd's `?ns=` routed here; unset: the prefix. */
    namespaces: z
      .array(z.string().regex(NAMESPACE, 'must be a registry host as containerd sends it in ns, e.g. docker.io or registry.example.com:5000'))
      .optional(),
    /** Single-segment names get `library/`; unset: whether url is Docker Hub or docker.io a namespace. */
    dockerhub: z.boolean().optional(),
    /** Serves names under no prefix that are no local repository (docker's registry-mirrors). */
    default: z.boolean().default(false),
  })
  .strict()
  .superRefine((m, ctx) => {
    credentialsTogether(m, ctx);
    if (typeof m.url === 'string' && m.url.startsWith('http:'))
      for (const k of ['ca', 'insecure'] as const) if (m[k]) issue(ctx, [k], 'has no effect with an http url: the upstream is reached without TLS (use https)');
    if (m.ca !== undefined && m.insecure) issue(ctx, ['ca'], 'has no effect with insecure: true, which verifies no certificate');
  })
  .transform((m) => {
    const namespaces = (m.namespaces ?? [m.prefix]).map((n) => n.toLowerCase());
    // Docker Hub's content also comes through other hosts (mirror.gcr.io) under its own name.
    return { ...m, namespaces, dockerhub: m.dockerhub ?? (isDockerHub(m.url) || namespaces.includes('docker.io')) };
  });

export type MirrorConfig = z.output<typeof mirror>;

function pathPrefixOf(a: string, b: string): boolean {
  return a === b || b.startsWith(`${a}/`);
}

/** What only the whole list can tell: overlapping prefixes, shared namespaces, several defaults. */
export const mirrorsSchema = z
  .array(mirror)
  .superRefine((list, ctx) => {
    const namespaces = new Map<string, number>();
    let firstDefault: number | undefined;
    // Runs even when an entry failed (zod then hands it over untransformed): only plain facts are read.
    list.forEach((m, i) => {
      if (typeof m.prefix !== 'string') return;
      const other = list.findIndex((o, j) => j < i && typeof o.prefix === 'string' && (pathPrefixOf(o.prefix, m.prefix) || pathPrefixOf(m.prefix, o.prefix)));
      if (other >= 0)
        issue(ctx, [i, 'prefix'], m.prefix === list[other].prefix ? `duplicate prefix "${m.prefix}" (also mirrors.${other}.prefix)` : `"${m.prefix}" overlaps mirrors.${other}.prefix "${list[other].prefix}": a name must belong to one mirror`);
      (Array.isArray(m.namespaces) ? m.namespaces : []).forEach((n, k) => {
        const owner = namespaces.get(n);
        if (owner !== undefined) issue(ctx, [i, 'namespaces', k], `"${n}" is already routed to mirrors.${owner}`);
        else namespaces.set(n, i);
      });
      if (m.default && firstDefault !== undefined) issue(ctx, [i, 'default'], `only one mirror may be the default; mirrors.${firstDefault} already is`);
      if (m.default) firstDefault ??= i;
    });
  })
  .default([]);

/**
 * Distribution's `proxy`: the registry is a pull-only cache of `remoteurl`. An empty or absent
 * remoteurl leaves it off, as in Distribution (a compose file's `REGISTRY_PROXY_REMOTEURL=`).
 */
export const proxySchema = z
  .object({
    remoteurl: z.preprocess((v) => (v === '' || v === null ? undefined : v), upstreamUrl.optional()),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    ttl: duration.default(MIRROR_DEFAULTS.ttl),
    maxsize: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.remoteurl === undefined) {
      if (p.username !== undefined || p.password !== undefined) issue(ctx, ['remoteurl'], 'required with username and password');
      return;
    }
    credentialsTogether(p, ctx);
  })
  .transform((p) => (p.remoteurl === undefined ? undefined : { ...p, remoteurl: p.remoteurl }))
  .optional();

export type ProxyConfig = NonNullable<z.output<typeof proxySchema>>;

/** proxy and mirrors are two answers to one question; see README "Pull-through mirror". */
export function proxyWithMirrors(c: { proxy?: ProxyConfig; mirrors: MirrorConfig[] }, ctx: z.RefinementCtx): void {
  if (c.proxy !== undefined && c.mirrors.length > 0)
    issue(ctx, ['proxy'], 'cannot be combined with mirrors: list the upstream in mirrors instead, with default: true to serve names under no prefix');
}

/**
 * Settings every mirror shares. `spooldirectory`: a local directory where an upstream blob's bytes
 * wait while they stream to clients and into storage (mirror/blob-fetcher.ts); files there are
 * unlinked as soon as they are opened, so it needs room for the blobs being fetched at once, not for
 * the cache. Local even when storage is shared: each replica spools its own fetches.
 */
export const mirrorSettingsSchema = z
  .object({
    spooldirectory: z.string().min(1).default(() => path.join(os.tmpdir(), 'berth-mirror-spool')),
  })
  .strict()
  .default({});
