/**
 * What went wrong talking to an upstream, as a kind the mirror can act on: serve stale content
 * (`unavailable`, `rate-limited`), answer the client's 404 (`not-found`), report misconfigured
 * credentials (`unauthorized`, `denied`), or refuse to cache (`bad-response`). Messages name the
 * request without its query string (presigned storage URLs carry signatures there) and never carry
 * credentials or tokens.
 */
export type UpstreamErrorKind = 'not-found' | 'unauthorized' | 'denied' | 'rate-limited' | 'unavailable' | 'bad-response';

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly details: {
      /** The upstream's HTTP status, when it answered. */
      status?: number;
      /** The first OCI error code of the upstream's body (e.g. MANIFEST_UNKNOWN, TOOMANYREQUESTS). */
      code?: string;
      /** Retry-After of a 429 or 503, in milliseconds from when it was received. */
      retryAfterMs?: number;
    } = {},
  ) {
    super(message);
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get code(): string | undefined {
    return this.details.code;
  }

  get retryAfterMs(): number | undefined {
    return this.details.retryAfterMs;
  }
}

export function isUpstreamError(err: unknown, kind?: UpstreamErrorKind): err is UpstreamError {
  return err instanceof UpstreamError && (kind === undefined || err.kind === kind);
}

/** The kind a non-2xx status means. */
export function kindOfStatus(status: number): UpstreamErrorKind {
  if (status === 404) return 'not-found';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'denied';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'unavailable';
  return 'bad-response';
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = [value ?? []].flat()[0]?.trim();
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** A URL fit for messages and logs: no userinfo, no query, no fragment. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
