import { DomainError } from '../oci/errors';
import { BlobFetchError } from './blob-fetch-error';
import { UpstreamError } from './upstream-errors';

/**
 * The client's answer to an upstream failure when nothing cached can stand in: 404 for what the
 * upstream does not have, 429 or 503 with the upstream's Retry-After when it rate-limits or is
 * down, 502 when it refuses this registry's credentials or sends something unusable (the operator's
 * to fix, and not the client's fault). Never a 500: the registry itself did not fail.
 */
export function upstreamAnswer(err: unknown, notFound: () => DomainError): unknown {
  // A fetch that failed before its first byte: storage's faults keep their own answer.
  if (err instanceof BlobFetchError && err.reason === 'storage-failed' && err.cause !== undefined) return err.cause;
  const upstream = err instanceof UpstreamError ? err : err instanceof BlobFetchError && err.cause instanceof UpstreamError ? err.cause : undefined;
  if (upstream === undefined) return err instanceof BlobFetchError ? new DomainError('upstream-unavailable', {}, err.message) : err;
  const retryAfterSeconds = upstream.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(upstream.retryAfterMs / 1000));
  switch (upstream.kind) {
    case 'not-found':
      return notFound();
    case 'rate-limited':
      return new DomainError('upstream-rate-limited', { retryAfterSeconds }, 'the upstream registry is rate-limiting this mirror');
    case 'unavailable':
      return new DomainError('upstream-unavailable', { retryAfterSeconds }, 'the upstream registry is unavailable');
    default:
      return new DomainError('upstream-refused', {}, `the upstream registry refused the mirror's request (${upstream.kind})`);
  }
}
