/**
 * What the registry refuses or cannot find, in its own terms: each kind with the facts that describe
 * it and nothing of HTTP. src/oci (and src/http for what it checks itself) throws these; the one table
 * in src/http/error-table.ts decides the OCI code, status and headers a client sees, as Distribution's
 * `errcode` and zot's `zerr` keep wire codes apart from the errors the registry raises.
 */
export interface DomainFacts {
  /** The blob is not in this repository (or not stored at all). */
  'blob-unknown': { digest: string };
  /** A malformed or unsupported digest or algorithm, or content that does not match its digest. */
  'digest-invalid': { digest?: string; algorithm?: string };
  /** A body that does not match its declared length, or an unusable length. */
  'size-invalid': { expected?: number; received?: number; contentLength?: number; contentRange?: number };
  /** A body over the limit this request may carry. */
  'too-large': { limit: number };
  'manifest-invalid': Record<string, unknown>;
  'manifest-unknown': { digest: string } | { tag: string };
  /** A manifest references a blob or child manifest the repository does not hold. */
  'manifest-blob-unknown': { digest: string };
  'name-invalid': { name?: string };
  'name-unknown': { name: string };
  'upload-unknown': { uuid: string };
  /** The session's `_state` is missing, forged or someone else's. */
  'upload-state-invalid': Record<string, never>;
  /** Requests racing on one session stored over each other's bytes (on S3: the same parts). */
  'upload-changed': Record<string, never>;
  /** Another request on the session is still in progress (upload-lease.ts); `offset` as below. */
  'upload-busy': { offset?: number };
  /**
   * A chunk that does not continue the upload, or whose range cannot be read; `offset` is the size
   * the session holds (once known), `contentRange` the unreadable header.
   */
  'upload-range-invalid': { offset?: number; contentRange?: string };
  /** A byte range of a blob of `size` bytes that asks for none of them. */
  'range-not-satisfiable': { size: number };
  /** No route serves this path. */
  'route-unknown': { path: string };
  /** The route exists but takes only `allow`. */
  'method-not-allowed': { method: string | undefined; allow: string[] };
  /** The registry is in read-only mode; the route still takes `allow`. */
  'read-only': { allow: string[] };
  'deletes-disabled': Record<string, never>;
  /** A query or path parameter that is not what the API defines (`n` of a listing, an insight cursor or layer index). */
  'parameter-invalid': { n?: string; last?: string; at?: string; layer?: string; dir?: string };
  /** Image insight is turned off (insight.enabled: false): its routes answer as unknown ones. */
  'insight-disabled': Record<string, never>;
  /** A garbage collection kept deleting what this write references; retrying later succeeds. */
  'collection-conflict': Record<string, never>;
  /** Notifications are configured to refuse writes while this many events wait for delivery. */
  'events-backlog-full': { pending: number };
  /** A mirror's upstream is down or failing (5xx, unreachable, timed out) and nothing cached answers. */
  'upstream-unavailable': { retryAfterSeconds?: number };
  /** A mirror's upstream rate-limits this registry and nothing cached answers. */
  'upstream-rate-limited': { retryAfterSeconds?: number };
  /** A mirror's upstream refused its credentials or sent something unusable: the operator's to fix. */
  'upstream-refused': Record<string, never>;
  /** insight.secrets is `deny` for the repository and the image ships secrets (src/insight/push-policy.ts). */
  'secrets-denied': { findings: Array<{ path: string; rule: string; fingerprint: string; layer?: string }> };
  /** Under `deny`, the analysis of the image's layers did not finish within insight.wait. */
  'insight-pending': { layers: string[] };
}

export type DomainErrorKind = keyof DomainFacts;

export class DomainError<K extends DomainErrorKind = DomainErrorKind> extends Error {
  /** Told to the client in place of the OCI code's generic message, when set. */
  readonly reason: string | undefined;

  constructor(
    readonly kind: K,
    readonly facts: DomainFacts[K],
    reason?: string,
  ) {
    super(reason ?? kind);
    this.name = 'DomainError';
    this.reason = reason;
  }
}

export function isDomainError<K extends DomainErrorKind>(err: unknown, kind: K): err is DomainError<K> {
  return err instanceof DomainError && err.kind === kind;
}
