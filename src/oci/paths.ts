import type { Digest } from './digest';

/**
 * Every storage path Berth uses, one function per kind, in Distribution's v2 layout
 * (docs/architecture.md, "On-storage layout") so that a directory or bucket written by Distribution
 * is served as is, and back. Referrers are Berth's addition, kept beside the other per-repository
 * links in the same style.
 */
export const ROOT = '/docker/registry/v2';
export const REPOSITORIES = `${ROOT}/repositories`;
/** Berth's own state, outside Distribution's layout: Distribution ignores everything under it. */
const BERTH = '/berth';
const BLOB_ALIASES = `${BERTH}/blob-aliases`;
const GC = `${BERTH}/gc`;
const EVENTS = `${BERTH}/events`;
const MIRROR = `${BERTH}/mirror`;
const INSIGHT = `${BERTH}/insight`;
/** Lease numbers are zero-padded so that a listing's lexical order is their numeric order. */
const LEASE_DIGITS = 16;
/** Where filesystem stores of earlier versions already kept the token key, so they load it unchanged. */
const TOKEN_KEYS = `${BERTH}/auth`;

export const paths = {
  blobData: (d: Digest) => `${ROOT}/blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}/data`,
  blobDir: (d: Digest) => `${ROOT}/blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`,
  blobsRoot: `${ROOT}/blobs`,
  /**
   * Berth's addition: beside where the data of a blob pushed by another algorithm than sha256 would
   * lie, the sha256 it is stored under (see BlobStore.mount). Distribution only ever reads `data`
   * files there, so it ignores this one.
   */
  /** Berth's own, outside Distribution's layout, which stays file for file what Distribution writes. */
  blobAlias: (d: Digest) => `${BLOB_ALIASES}/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`,
  blobAliases: BLOB_ALIASES,
  layersDir: (name: string) => `${REPOSITORIES}/${name}/_layers`,
  repository: (name: string) => `${REPOSITORIES}/${name}`,
  layerLink: (name: string, d: Digest) => `${REPOSITORIES}/${name}/_layers/${d.algorithm}/${d.hex}/link`,
  layerLinkDir: (name: string, d: Digest) => `${REPOSITORIES}/${name}/_layers/${d.algorithm}/${d.hex}`,
  manifestsDir: (name: string) => `${REPOSITORIES}/${name}/_manifests`,
  revisionLink: (name: string, d: Digest) => `${REPOSITORIES}/${name}/_manifests/revisions/${d.algorithm}/${d.hex}/link`,
  revisionDir: (name: string, d: Digest) => `${REPOSITORIES}/${name}/_manifests/revisions/${d.algorithm}/${d.hex}`,
  revisionsDir: (name: string) => `${REPOSITORIES}/${name}/_manifests/revisions`,
  tagsDir: (name: string) => `${REPOSITORIES}/${name}/_manifests/tags`,
  tagDir: (name: string, tag: string) => `${REPOSITORIES}/${name}/_manifests/tags/${tag}`,
  tagCurrentLink: (name: string, tag: string) => `${REPOSITORIES}/${name}/_manifests/tags/${tag}/current/link`,
  tagIndexDir: (name: string, tag: string) => `${REPOSITORIES}/${name}/_manifests/tags/${tag}/index`,
  tagIndexLink: (name: string, tag: string, d: Digest) =>
    `${REPOSITORIES}/${name}/_manifests/tags/${tag}/index/${d.algorithm}/${d.hex}/link`,
  referrersDir: (name: string, subject: Digest) => `${REPOSITORIES}/${name}/_referrers/${subject.algorithm}/${subject.hex}`,
  referrerLink: (name: string, subject: Digest, d: Digest) =>
    `${REPOSITORIES}/${name}/_referrers/${subject.algorithm}/${subject.hex}/${d.algorithm}/${d.hex}/link`,
  referrerLinkDir: (name: string, subject: Digest, d: Digest) =>
    `${REPOSITORIES}/${name}/_referrers/${subject.algorithm}/${subject.hex}/${d.algorithm}/${d.hex}`,
  /** Written once every existing manifest's subject is in the index (directories written by Distribution have none). */
  referrersIndexed: (name: string) => `${REPOSITORIES}/${name}/_referrers/indexed`,
  uploadsDir: (name: string) => `${REPOSITORIES}/${name}/_uploads`,
  uploadDir: (name: string, uuid: string) => `${REPOSITORIES}/${name}/_uploads/${uuid}`,
  uploadData: (name: string, uuid: string) => `${REPOSITORIES}/${name}/_uploads/${uuid}/data`,
  uploadStartedAt: (name: string, uuid: string) => `${REPOSITORIES}/${name}/_uploads/${uuid}/startedat`,
  /**
   * Berth's resumable sha256 of the upload's data (hash-state.ts). Not Distribution's
   * `hashstates/sha256/<offset>`: those hold Go's encoding, which Distribution would fail to decode.
   */
  uploadHashState: (name: string, uuid: string) => `${REPOSITORIES}/${name}/_uploads/${uuid}/berth-sha256-state`,
  /** The numbered leases of requests on one upload session (upload-lease.ts); deleted with the session. */
  uploadLeases: (name: string, uuid: string) => `${REPOSITORIES}/${name}/_uploads/${uuid}/berth-leases`,
  uploadLease: (name: string, uuid: string, n: number) => `${REPOSITORIES}/${name}/_uploads/${uuid}/berth-leases/${String(n).padStart(LEASE_DIGITS, '0')}`,
  /** The numbered collection leases (gc-lease.ts). */
  gcLeases: `${GC}/leases`,
  gcLease: (n: number) => `${GC}/leases/${String(n).padStart(LEASE_DIGITS, '0')}`,
  /** The sweep's state and candidates, which writers read (gc-sweep-state.ts). */
  gcSweepState: `${GC}/sweep`,
  gcSweepCandidates: `${GC}/candidates`,
  /** Written to read the storage's own clock back from its modTime. */
  gcClock: `${GC}/mark-started`,
  /**
   * When a mirrored tag's digest was last confirmed with its upstream (mirror/tag-checks.ts). `_tags`
   * cannot be a repository name component, so one repository's tags never sit where another's name does.
   */
  mirrorTagCheck: (name: string, tag: string) => `${MIRROR}/tag-checks/${name}/_tags/${tag}`,
  /**
   * When a mirrored manifest was last pulled: the empty file's modification time (mirror/pull-log.ts).
   * `_manifests` as `_tags` above: no repository's name can reach into another's records.
   */
  mirrorPulls: (name: string) => `${MIRROR}/pulls/${name}/_manifests`,
  mirrorPull: (name: string, d: Digest) => `${MIRROR}/pulls/${name}/_manifests/${d.algorithm}/${d.hex}`,
  /**
   * A layer's analysis (src/insight/layer-records.ts): the outcome and findings (`record`, written
   * last: its presence means done) and the file list (`files`, gzipped NDJSON), beside where the
   * blob's data lies in Distribution's layout but under Berth's own root.
   */
  insightLayerDir: (d: Digest) => `${INSIGHT}/layers/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`,
  insightLayerRecord: (d: Digest) => `${INSIGHT}/layers/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}/record`,
  insightFileList: (d: Digest) => `${INSIGHT}/layers/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}/files`,
  insightLayersRoot: `${INSIGHT}/layers`,
  /**
   * An image's merged analysis (src/insight/report-cache.ts), keyed by its manifest's digest: what
   * its layers' records and file lists add up to, so a second report is one read. Derived data:
   * absent or unreadable, it is computed again. In the digest's own insight directory, so that the
   * collector's removal of that directory when it deletes the manifest's data takes it too.
   */
  insightImage: (d: Digest) => `${INSIGHT}/layers/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}/image`,
  /** The analysis queue: an empty marker per layer waiting to be analysed (src/insight/analysis-queue.ts). */
  insightQueue: `${INSIGHT}/queue`,
  insightJob: (d: Digest) => `${INSIGHT}/queue/${d.algorithm}-${d.hex}`,
  /** Per queued layer, the numbered leases of whoever analyses it. */
  insightClaims: (d: Digest) => `${INSIGHT}/claims/${d.algorithm}-${d.hex}`,
  insightClaim: (d: Digest, n: number) => `${INSIGHT}/claims/${d.algorithm}-${d.hex}/${String(n).padStart(LEASE_DIGITS, '0')}`,
  /** Heartbeats of secret-less processes (shared-storage.ts). */
  instances: `${BERTH}/instances`,
  instance: (id: string) => `${BERTH}/instances/${id}`,
  /** The readiness probe's scratch files (storage-health.ts). */
  probe: (id: string) => `${BERTH}/probes/${id}`,
  /** The notification journal's segments, named so that lexical order is the order they were written in (events/journal.ts). */
  eventSegments: `${EVENTS}/segments`,
  eventSegment: (name: string) => `${EVENTS}/segments/${name}`,
  /** Per endpoint, an empty marker per segment delivered to it (events/deliverer.ts). */
  eventsDelivered: (endpoint: string) => `${EVENTS}/delivered/${endpoint}`,
  eventDelivered: (endpoint: string, segment: string) => `${EVENTS}/delivered/${endpoint}/${segment}`,
  /** Per endpoint, a marker per segment set aside after `maxattempts` refusals, with why (events/dead-letters.ts). */
  eventDeadLetterRoot: `${EVENTS}/deadletter`,
  eventsDeadLettered: (endpoint: string) => `${EVENTS}/deadletter/${endpoint}`,
  eventDeadLettered: (endpoint: string, segment: string) => `${EVENTS}/deadletter/${endpoint}/${segment}`,
  /** Per endpoint, the numbered leases saying which process delivers to it (events/endpoint-lease.ts). */
  eventLeases: (endpoint: string) => `${EVENTS}/leases/${endpoint}`,
  eventLease: (endpoint: string, gen: number) => `${EVENTS}/leases/${endpoint}/${String(gen).padStart(LEASE_DIGITS, '0')}`,
  /** The built-in token server's generated signing key, with its certificate (auth/keystore.ts). */
  tokenSigningKey: () => `${TOKEN_KEYS}/token.key`,
  /** That key's certificate alone, for operators to hand to other registries as a `rootcertbundle`. */
  tokenSigningCertificate: () => `${TOKEN_KEYS}/token.crt`,
};

/** The number of a lease path from `paths.gcLease`, or undefined for anything else. */
export function leaseNumber(path: string): number | undefined {
  const name = basename(path);
  return name.length === LEASE_DIGITS && /^\d+$/.test(name) ? Number(name) : undefined;
}

/** The last component of a path. */
export function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
