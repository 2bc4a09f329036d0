import { DomainError } from '../oci/errors';
import type { IncomingHttpHeaders } from 'node:http';
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

/** One `range-spec` of a `bytes` range set (RFC 9110 §14.1.1): first-last, first-, or -suffix. */
const RANGE_SPEC = /^(?:(\d+)-(\d*)|-(\d+))$/;

/**
 * A blob GET's `Range` (RFC 9110 §14.2). A header that is not a valid `bytes` range set (bad syntax,
 * another unit, `5-3`) is ignored: the blob is served whole. A valid set none of whose ranges
 * overlaps the blob is unsatisfiable (416). One satisfiable range is served alone; a set of several
 * is served whole, which the RFC allows, rather than as multipart, which no registry client asks for.
 */
export function parseRange(header: string | undefined, size: number): BlobRange {
  const m = header === undefined ? null : /^bytes=(.*)$/is.exec(header.trim());
  if (!m) return { kind: 'full' };
  // A list element may be empty and commas may carry whitespace (RFC 9110 §5.6.1).
  const specs = m[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'full' };
  const ranges: (ByteRange | 'whole' | null)[] = [];
  for (const spec of specs) {
    const r = RANGE_SPEC.exec(spec);
    const range = r === null ? undefined : r[3] !== undefined ? suffixRange(Number(r[3]), size) : intRange(Number(r[1]), r[2] === '' ? Infinity : Number(r[2]), size);
    if (range === undefined) return { kind: 'full' };
    ranges.push(range);
  }
  const satisfiable = ranges.filter((r) => r !== null);
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  // An empty blob satisfies a suffix range with nothing, which only a whole 200 can say.
  return specs.length === 1 && satisfiable[0] !== 'whole' ? { kind: 'partial', range: satisfiable[0] } : { kind: 'full' };
}

/** first-last: undefined when invalid (last before first), null when it starts past the end. */
function intRange(first: number, last: number, size: number): ByteRange | null | undefined {
  if (last < first) return undefined;
  return first < size ? { start: first, end: Math.min(last, size - 1) } : null;
}

/** -suffix: the last `suffix` bytes; null when it asks for none; 'whole' for any of an empty blob. */
function suffixRange(suffix: number, size: number): ByteRange | 'whole' | null {
  if (suffix === 0) return null;
  return size > 0 ? { start: Math.max(size - suffix, 0), end: size - 1 } : 'whole';
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

/**
 * The Range a GET asks for, unless its If-Range does not match (RFC 9110 §13.1.5: then the Range is
 * ignored and the whole is sent). A blob's one validator is its ETag, the quoted digest, compared
 * strongly: a date, a weak tag or another tag never matches.
 */
export function wantedRange(headers: IncomingHttpHeaders, etag: string): string | undefined {
  const { range, 'if-range': ifRange } = headers;
  const matches = ifRange === undefined || (typeof ifRange === 'string' && ifRange.trim() === etag);
  return matches ? range : undefined;
}
