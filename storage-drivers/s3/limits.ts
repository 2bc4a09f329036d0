/**
 * S3's multipart limits and the driver's arithmetic for them. RGW does not enforce all of these
 * (AWS does), so they are pure functions pinned by unit tests.
 */
const MiB = 1024 * 1024;
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;
/** The largest object a single CopyObject may copy. */
export const MAX_SINGLE_COPY = 5 * 1024 * MiB;
/**
 * Once the upload outgrows chunkSize × this, each part is at least 1/this of the bytes so far, so
 * part sizes grow geometrically (by 0.1 % a part) and 5 TiB fits in about 8,000 parts.
 */
const GROWTH_DIVISOR = 1000;

function roundUpToMiB(n: number): number {
  return Math.ceil(n / MiB) * MiB;
}

/** Size of the next part of an upload that holds `bytesSoFar` bytes in earlier parts. */
export function partSizeFor(bytesSoFar: number, chunkSize: number): number {
  const grown = roundUpToMiB(Math.ceil(bytesSoFar / GROWTH_DIVISOR));
  return Math.min(MAX_PART_SIZE, Math.max(chunkSize, MIN_PART_SIZE, grown));
}

/** How many parts the writer cuts an upload of `total` bytes into (the last one may be short). */
export function partCount(total: number, chunkSize: number): number {
  let bytes = 0;
  let parts = 0;
  while (bytes < total) {
    bytes += partSizeFor(bytes, chunkSize);
    parts++;
  }
  return Math.max(parts, 1);
}

/** True when moving an object of `size` bytes must (or, past the threshold, should) copy it in parts. */
export function needsMultipartCopy(size: number, threshold: number): boolean {
  return size > Math.min(threshold, MAX_SINGLE_COPY);
}

/** Byte ranges [start, end] (inclusive, as in CopySourceRange) of a multipart copy. */
export function copyRanges(size: number, chunkSize: number): [number, number][] {
  const partSize = Math.min(MAX_PART_SIZE, Math.max(chunkSize, MIN_PART_SIZE, roundUpToMiB(Math.ceil(size / MAX_PARTS))));
  const ranges: [number, number][] = [];
  for (let start = 0; start < size; start += partSize) ranges.push([start, Math.min(size, start + partSize) - 1]);
  return ranges;
}

/**
 * Copy ranges that can precede more parts of the same upload: every one at least MIN_PART_SIZE
 * (only an upload's last part may be shorter), so a short last range joins the one before it, or
 * takes from it when the two would exceed MAX_PART_SIZE. `size` must be at least MIN_PART_SIZE.
 */
export function leadingCopyRanges(size: number, chunkSize: number): [number, number][] {
  const ranges = copyRanges(size, chunkSize);
  const [start, end] = ranges[ranges.length - 1];
  if (ranges.length < 2 || end - start + 1 >= MIN_PART_SIZE) return ranges;
  ranges.pop();
  const prev = ranges.pop()!;
  if (end - prev[0] + 1 <= MAX_PART_SIZE) return [...ranges, [prev[0], end]];
  const split = end + 1 - MIN_PART_SIZE;
  return [...ranges, [prev[0], split - 1], [split, end]];
}
