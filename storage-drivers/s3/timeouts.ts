import { Transform, pipeline, type Readable } from 'node:stream';

/**
 * The error of a bound this driver enforces itself. Named like the SDK's own timeouts, and carrying
 * `$metadata` like every error of the SDK, so both are classified alike (src/storage-faults).
 */
export function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { name: 'TimeoutError', code: 'ETIMEDOUT', $metadata: {} });
}

/**
 * Runs `work` with a signal that aborts after `ms` (or when `signal` does) and, if the time ran out,
 * fails with a timeout error instead of the SDK's bare AbortError. The timer stops once `work` has
 * settled, so a stream `work` returned is not cut by it later.
 */
export async function withDeadline<T>(ms: number, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(timeoutError(`storage did not answer within ${ms} ms`)), ms);
  try {
    return await work(signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal);
  } catch (err) {
    if (deadline.signal.aborted && !signal?.aborted) throw deadline.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Passes `body` through, failing it when it is ready for more bytes and none come for `ms` (a frozen
 * or black-holed server). While its reader holds it back (a slow client: the buffer is full), time
 * does not count, so the S3 socket may sit idle as long as the client's own connection may.
 * Its buffers keep Node's default highWaterMark (16 KiB a side): a download holds at most 32 KiB
 * here, besides the S3 response's own socket and stream buffers. 256 KiB and 1 MiB were measured
 * against it on 256 and 512 MiB pulls straight from Berth (bench/s3-pull-buffer.ts, 2026-12-05):
 * each won some rounds and lost others, nothing clearly better for 16 to 64 times the memory.
 */
export function stallGuard(body: Readable, ms: number): Readable {
  const guard = new Transform({
    transform(chunk, _encoding, done) {
      timer.refresh();
      done(null, chunk);
    },
    flush(done) {
      clearTimeout(timer);
      done();
    },
  });
  const timer = setTimeout(function check() {
    const wantsMore = guard.writableLength === 0 && guard.readableLength < guard.readableHighWaterMark;
    if (wantsMore) guard.destroy(timeoutError(`storage sent no data for ${ms} ms`));
    else timer.refresh();
  }, ms).unref();
  // Ends the S3 response (and frees its socket) whichever side fails or gives up first.
  pipeline(body, guard, () => clearTimeout(timer));
  return guard;
}
