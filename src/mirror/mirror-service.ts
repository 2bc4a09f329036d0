import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { Registry } from '../oci/registry';
import { BlobFetcher } from './blob-fetcher';
import { BlobFetchError } from './blob-fetch-error';
import type { BlobFetchObserver } from './blob-fetch-observer';
import { readMirrorCas } from './ca-files';
import { MirrorManifests } from './mirror-manifests';
import type { MirrorObserver } from './mirror-observer';
import type { Mirror } from './mirrors';
import type { PullLog } from './pull-log';
import type { MirrorRoute } from './routing';
import { TagChecks } from './tag-checks';
import { UpstreamClient } from './upstream-client';
import { UpstreamError } from './upstream-errors';

export interface MirrorServiceDeps {
  mirrors: readonly Mirror[];
  registry: Registry;
  driver: StorageDriver;
  logger: Logger;
  /** mirror.spooldirectory */
  spoolDirectory: string;
  /** validation.manifests.maxsize and maxdescriptors, as for a push. */
  manifestMaxSize: number;
  maxDescriptors: number;
  observer?: MirrorObserver;
  blobObserver?: BlobFetchObserver;
  /** Records pulls for eviction; written by its owner. */
  pulls?: PullLog;
  now?: () => number;
}

/**
 * Everything the routes need to serve mirrored repositories: one upstream client per mirror, one
 * blob fetcher (single flight, spool, verified commit) and the manifest logic (tag checks, stale
 * serving). Built by the composition root; the routes only ask it.
 */
export class MirrorService {
  readonly mirrors: readonly Mirror[];
  readonly manifests: MirrorManifests;
  readonly blobs: BlobFetcher;
  readonly observer: MirrorObserver;
  private readonly cas: Promise<Map<string, string>>;
  private readonly clients = new Map<string, UpstreamClient>();

  constructor(private readonly deps: MirrorServiceDeps) {
    this.mirrors = deps.mirrors;
    this.observer = deps.observer ?? {};
    // Read once; ready() makes a missing or damaged file stop start-up.
    this.cas = readMirrorCas(deps.mirrors);
    this.cas.catch(() => undefined);
    this.manifests = new MirrorManifests({
      manifests: deps.registry.manifests,
      checks: new TagChecks(deps.driver),
      logger: deps.logger,
      observer: this.observer,
      maxDescriptors: deps.maxDescriptors,
      pulls: deps.pulls,
      now: deps.now,
    });
    this.blobs = new BlobFetcher({ blobs: deps.registry.blobs, uploads: deps.registry.uploads, spoolDirectory: deps.spoolDirectory, observer: deps.blobObserver });
  }

  /** Rejects, naming the key, when a mirror's `ca` file cannot be read. */
  async ready(): Promise<void> {
    await this.cas;
  }

  /** The upstream client of the route's mirror (created on first use, kept for the process's life). */
  async client(route: MirrorRoute): Promise<UpstreamClient> {
    const { mirror } = route;
    const existing = this.clients.get(mirror.prefix);
    if (existing) return existing;
    const caPem = (await this.cas).get(mirror.prefix);
    const made =
      this.clients.get(mirror.prefix) ??
      new UpstreamClient({
        url: mirror.url,
        username: mirror.username,
        password: mirror.password,
        caPem,
        insecure: mirror.insecure,
        manifestMaxSize: this.deps.manifestMaxSize,
        logger: this.deps.logger.child({ mirror: mirror.prefix === '' ? 'proxy' : mirror.prefix }),
      });
    this.clients.set(mirror.prefix, made);
    return made;
  }

  /** Counts an upstream failure of the route's mirror (also one a blob fetch carries); answers it, for rethrowing. */
  failed(route: MirrorRoute, err: unknown): unknown {
    const upstream = err instanceof BlobFetchError ? err.cause : err;
    if (upstream instanceof UpstreamError) this.observer.upstreamError?.(route.mirror.prefix, upstream.kind);
    return err;
  }

  async close(): Promise<void> {
    await this.blobs.close();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
