import { buffer } from 'node:stream/consumers';
import { BufferPool } from '../buffer-pool';
import { ObjectReader } from './object-reader';
import type { RawConnectionPool } from './raw-connection';
import { rawRequest, type RawRequest } from './raw-request';
import type { RequestSigner } from './request-signer';

/** A body above this is not a small object's: its GET is left to the SDK. */
export const MAX_SMALL_BODY = 64 * 1024 * 1024;

export interface SmallResponse {
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
  /** The whole body; null for a HEAD, or a body without a plain Content-Length (not read). */
  body: Buffer | null;
}

/** Bodies of small answers arrive with their head; this pool only backs ObjectReader's stream. */
const unusedBuffers = new BufferPool(16 * 1024, 0);

/**
 * HEAD, GET and PUT of small objects signed by `signer` and sent on the raw connection pool: the
 * SDK's client costs 1.0–1.9 ms of CPU per request here, this 0.2–0.35 ms (bench/s3-small-cpu.ts).
 * send() answers null for what it leaves to the SDK: a connection that failed before its answer,
 * a head the strict parser refuses, every connection busy. It never retries: its callers send
 * those through the SDK, whose retries apply.
 */
export class SmallRequests {
  constructor(
    private readonly signer: RequestSigner,
    private readonly connections: RawConnectionPool,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Fails with a timeout error when the answer did not come within the request timeout, and with
   * the signal's reason when it aborts (the connection is then closed).
   */
  async send(method: RawRequest['method'], key: string, headers: Record<string, string>, body: Uint8Array | undefined, signal: AbortSignal | undefined): Promise<SmallResponse | null> {
    const signed = await this.signer.sign(method, key, headers, body);
    let res;
    try {
      res = await rawRequest(this.connections, { method, url: signed.url, headers: signed.headers, body }, this.timeoutMs, signal);
    } catch (err) {
      if (signal?.aborted || (err as Error).name === 'TimeoutError') throw err;
      return null;
    }
    if (!res) return null;
    const { status, headers: got, conn } = res;
    const release = () => (res.keepAlive ? this.connections.give(conn) : conn.destroy());
    // A HEAD's answer has no body, whatever its Content-Length says; nor has a 204 or 304.
    if (method === 'HEAD' || status === 204 || status === 304) {
      if (res.leftover.length > 0) conn.destroy();
      else release();
      return { status, headers: got, body: null };
    }
    const declared = got.get('content-length') ?? '';
    const length = Number(declared);
    if (!/^\d+$/.test(declared) || length > MAX_SMALL_BODY || got.has('transfer-encoding')) {
      conn.destroy();
      return { status, headers: got, body: null };
    }
    // Most small bodies come whole with the head (a fresh copy, not the connection's buffer).
    if (res.leftover.length === length) {
      release();
      return { status, headers: got, body: res.leftover };
    }
    const reader = new ObjectReader(conn, length, res.leftover, unusedBuffers, release, this.timeoutMs, signal);
    try {
      return { status, headers: got, body: await buffer(reader) };
    } catch (err) {
      if (signal?.aborted || (err as Error).name === 'TimeoutError') throw err;
      // The status stands (a PUT's outcome is known); a body cut short is not returned.
      return { status, headers: got, body: null };
    }
  }
}
