import { DomainError } from '../oci/errors';
import type { ByteRange } from '../oci/blobs';

function rangeInvalid(header: string, message: string): DomainError {
  return new DomainError('upload-range-invalid', { contentRange: header.slice(0, 100) }, message);
}

/** The `Range` header value for an upload of `offset` bytes (Distribution's "0-0" when empty). */
export function uploadRange(offset: number): string {
  return `0-${Math.max(offset - 1, 0)}`;
}

/** Upload `Content-Range: <start>-<end>` (inclusive); tolerates a `bytes ` prefix and `/total` suffix. */
export function parseContentRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d{1,15}|\*))?$/.exec(header.trim());
  if (!m) throw rangeInvalid(header, 'malformed Content-Range');
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw rangeInvalid(header, 'Content-Range ends before it starts');
  return { start, end };
}

export type BlobRange = { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

/** A blob GET's `Range: bytes=…` (one range; anything else is served whole, as RFC 9110 allows). */
export function parseRange(header: string | undefined, size: number): BlobRange {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(size - suffix, 0), end: size - 1 } };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}

/** A request's Content-Length, or undefined when it has none (chunked). */
export function contentLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const n = Number(header);
  if (!/^\d{1,15}$/.test(header) || !Number.isSafeInteger(n)) throw new DomainError('size-invalid', {}, 'invalid Content-Length');
  return n;
}

/** `n` of a paginated listing. */
export function parseCount(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new DomainError('parameter-invalid', { n: value.slice(0, 50) }, 'n must be a non-negative integer');
  return Number(value);
}
