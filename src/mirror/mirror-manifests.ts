import type { Logger } from 'pino';
import { parseDigest, type Digest } from '../oci/digest';
import { DomainError, isDomainError } from '../oci/errors';
import type { ManifestRef, ManifestStore, StoredManifest } from '../oci/manifests';
import { KeyedFlights } from './keyed-flights';
import type { MirrorObserver, MirrorResult } from './mirror-observer';
import type { MirrorRoute } from './routing';
import type { TagCheck, TagChecks } from './tag-checks';
import { upstreamAnswer } from './upstream-answer';
import type { UpstreamClient } from './upstream-client';
import { UpstreamError } from './upstream-errors';

export type ServedManifest = StoredManifest & { bytes: Buffer };

/** One answer, counted once per client request (a flight's followers included). */
interface Answer {
  manifest: ServedManifest;
  result: MirrorResult;
}

export interface MirrorManifestsDeps {
  manifests: ManifestStore;
  checks: TagChecks;
  logger: Logger;
  observer: MirrorObserver;
  /** validation.manifests.maxdescriptors, as for a push. */
  maxDescriptors: number;
  /** Where each pull is recorded, for eviction by last pull (pull-log.ts). */
  pulls?: { record(repository: string, digest: string): void };
  now?: () => number;
}

/**
 * Manifests of mirrored repositories (issue 14). By digest: storage first, else the upstream's bytes
 * (verified by the client against the digest), stored for good: content-addressed, never stale. By
 * tag: the stored tag while its last check is younger than `tagttl`; else one HEAD to the upstream
 * (one per tag in flight in this process): the same digest renews the check, a new one is fetched,
 * stored and the tag moved. An upstream that is down or rate-limits is answered from the stored tag
 * while its last check is younger than `stale`, logged and counted. A pulled index's children are
 * fetched only when a client asks for them by digest.
 */
export class MirrorManifests {
  private readonly flights = new KeyedFlights<Answer>();
  private readonly now: () => number;

  constructor(private readonly deps: MirrorManifestsDeps) {
    this.now = deps.now ?? Date.now;
  }

  async get(route: MirrorRoute, client: UpstreamClient, ref: ManifestRef): Promise<ServedManifest> {
    const { manifest, result } = await this.answer(route, client, ref);
    this.deps.observer.served?.(route.mirror.prefix, 'manifest', result);
    this.deps.pulls?.record(route.localRepository, manifest.digest.value);
    return manifest;
  }

  private async answer(route: MirrorRoute, client: UpstreamClient, ref: ManifestRef): Promise<Answer> {
    const local = route.localRepository;
    if (ref.digest) {
      const cached = await this.stored(local, ref);
      if (cached) return { manifest: cached, result: 'hit' };
      const digest = ref.digest;
      return this.flights.run(`${local}@${digest.value}`, () =>
        this.fetch(route, client, digest, []).catch((err: unknown) => {
          this.countFailure(route, err);
          throw upstreamAnswer(err, () => new DomainError('manifest-unknown', { digest: digest.value }));
        }),
      );
    }
    const { tag } = ref;
    const check = await this.deps.checks.read(local, tag, route.mirror.tagttl, this.now());
    if (check && this.now() - check.checkedAt < route.mirror.tagttl) {
      const cached = await this.stored(local, ref);
      if (cached?.digest.value === check.digest) return { manifest: cached, result: 'hit' };
    }
    return this.flights.run(`${local}:${tag}`, () => this.revalidate(route, client, tag, check));
  }

  private async revalidate(route: MirrorRoute, client: UpstreamClient, tag: string, check: TagCheck | undefined): Promise<Answer> {
    const local = route.localRepository;
    const notFound = () => new DomainError('manifest-unknown', { tag });
    let current;
    try {
      current = await client.headManifest(route.upstreamRepository, tag);
    } catch (err) {
      return this.staleOr(route, tag, check, err, notFound);
    }
    if (current === null) throw notFound();
    const cached = await this.stored(local, { tag });
    if (cached?.digest.value === current.digest) {
      await this.deps.checks.record(local, tag, { digest: current.digest, checkedAt: this.now() });
      return { manifest: cached, result: 'hit' };
    }
    try {
      return await this.fetch(route, client, parseDigest(current.digest), [tag]);
    } catch (err) {
      return this.staleOr(route, tag, check, err, notFound);
    }
  }

  /** The manifest from the upstream, stored by digest (and under `tags`) with its references fetched later. */
  private async fetch(route: MirrorRoute, client: UpstreamClient, digest: Digest, tags: string[]): Promise<Answer> {
    const local = route.localRepository;
    const ref = { digest };
    let bytes: Buffer;
    let mediaType: string;
    const known = await this.stored(local, ref);
    if (known) ({ bytes, mediaType } = known);
    else ({ bytes, mediaType } = await client.getManifest(route.upstreamRepository, digest.value));
    try {
      await this.deps.manifests.put(local, ref, bytes, mediaType, tags, { maxDescriptors: this.deps.maxDescriptors, referencesFetchedLater: true });
    } catch (err) {
      // The upstream's manifest, not the client's: refusing it is the upstream's trouble (502), not a 400.
      if (isDomainError(err, 'manifest-invalid') || isDomainError(err, 'too-large'))
        throw new DomainError('upstream-refused', {}, `the upstream's manifest ${digest.value} is not one this registry can store: ${err.message}`);
      throw err;
    }
    for (const tag of tags) await this.deps.checks.record(local, tag, { digest: digest.value, checkedAt: this.now() });
    return { manifest: { digest, mediaType, size: bytes.length, bytes }, result: 'miss' };
  }

  /**
   * The stored tag when the upstream is down or rate-limits and the tag was confirmed within `stale`;
   * the failure as the client's error otherwise.
   */
  private async staleOr(route: MirrorRoute, tag: string, check: TagCheck | undefined, err: unknown, notFound: () => DomainError): Promise<Answer> {
    this.countFailure(route, err);
    if (!(err instanceof UpstreamError)) throw upstreamAnswer(err, notFound);
    const transient = err.kind === 'unavailable' || err.kind === 'rate-limited';
    if (transient && check && this.now() - check.checkedAt < route.mirror.stale) {
      const cached = await this.stored(route.localRepository, { tag });
      if (cached) {
        this.deps.logger.warn(
          { repository: route.localRepository, tag, digest: cached.digest.value, checkedAt: new Date(check.checkedAt).toISOString(), err: err.message },
          'mirror: upstream failed; serving the cached tag',
        );
        return { manifest: cached, result: 'stale' };
      }
    }
    throw upstreamAnswer(err, notFound);
  }

  private async stored(repository: string, ref: ManifestRef): Promise<ServedManifest | undefined> {
    try {
      return await this.deps.manifests.get(repository, ref);
    } catch (err) {
      if (isDomainError(err, 'manifest-unknown')) return undefined;
      throw err;
    }
  }

  private countFailure(route: MirrorRoute, err: unknown): void {
    if (err instanceof UpstreamError) this.deps.observer.upstreamError?.(route.mirror.prefix, err.kind);
  }
}
