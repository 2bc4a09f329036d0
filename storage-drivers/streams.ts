import type { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type { DirectReadable } from './types';

/**
 * Ends `w` if the caller has not, and waits until every byte has reached `_write`. commit() calls
 * this so that committing a writer the caller forgot to end still persists everything it wrote.
 */
export async function endAndFinish(w: Writable): Promise<void> {
  if (w.errored) throw w.errored;
  if (w.writableFinished) return;
  if (w.destroyed) throw new Error('writer was destroyed before it finished');
  if (!w.writableEnded) w.end();
  await finished(w, { readable: false });
}

/** Validates reader options against the current size; returns the exclusive end offset. */
export function readRange(size: number, offset: number, length: number | undefined): number {
  if (length === undefined) return size;
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid length ${length}`);
  return Math.min(size, offset + length);
}

function isDirect(r: Readable): r is DirectReadable {
  return typeof (r as Partial<DirectReadable>).writeTo === 'function';
}

/**
 * Copies a reader() stream into `sink` and ends it, through the reader's own `writeTo` when it has
 * one (no allocation per chunk), else through pipeline(). Either way a failure destroys both
 * streams and rejects.
 */
export async function copyTo(source: Readable, sink: Writable): Promise<void> {
  if (!isDirect(source)) return pipeline(source, sink);
  try {
    await source.writeTo(sink);
  } catch (err) {
    sink.destroy();
    throw err;
  }
}
