import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BufferPool } from '../buffer-pool';
import { s3Error } from './context';
import { ObjectReader } from './object-reader';
import { RawConnectionPool } from './raw-connection';
import { rawRequest, type RawResponse } from './raw-request';

/**
 * Body reads land in these; a socket read on loopback fills 64-128 KiB. The pool keeps enough idle
 * ones for four downloads at a time (MAX_IN_FLIGHT each, plus the one armed for the next read).
 */
const BODY_BUFFER = 128 * 1024;
const BUFFERS_KEPT = 20;

export interface DownloadedObject {
  body: ObjectReader;
  contentLength: number;
  contentRange?: string;
}

/**
 * Object GETs sent outside the SDK, so that their bodies can be read into reused buffers (see
 * ObjectReader). The SDK still signs them (a presigned URL from the same client), and still sends
 * every request this path leaves to it: open() answers null for whatever it does not handle
 * itself (an error other than 404 and 416, a connection that failed before answering, a head it
 * cannot parse strictly, a body without a plain length, or all its connections busy), and the caller then sends the GET through the SDK, retries and all.
 */
export class ObjectDownloads {
  private readonly connections: RawConnectionPool;
  private readonly buffers = new BufferPool(BODY_BUFFER, BUFFERS_KEPT);

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly requestTimeoutMs: number,
    connectTimeoutMs: number,
    maxConnections?: number,
  ) {
    this.connections = new RawConnectionPool(connectTimeoutMs, maxConnections);
  }

  /**
   * The object at `key` (bytes `range` of it, an HTTP Range value), its head within the request
   * timeout. Rejects with the SDK's kind of error for 404 and 416, a timeout error, or the
   * signal's reason.
   */
  async open(key: string, range: string | undefined, signal?: AbortSignal): Promise<DownloadedObject | null> {
    // Only used at once: the expiry need only cover a slow answer.
    const url = new URL(await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: 60 + Math.ceil(this.requestTimeoutMs / 1000) }));
    let res: RawResponse | null;
    try {
      res = await rawRequest(this.connections, { method: 'GET', url, headers: range ? { Range: range } : {} }, this.requestTimeoutMs, signal);
    } catch (err) {
      if (signal?.aborted || (err as Error).name === 'TimeoutError') throw err;
      return null;
    }
    if (!res) return null;
    const { status, headers, conn } = res;
    const length = Number(headers.get('content-length'));
    // Transfer-Encoding overrides a Content-Length (RFC 9112 6.3): such a body is left to the SDK.
    if (status === (range ? 206 : 200) && /^\d+$/.test(headers.get('content-length') ?? '') && Number.isSafeInteger(length) && !headers.has('transfer-encoding')) {
      const release = res.keepAlive ? () => this.connections.give(conn) : () => conn.destroy();
      const body = new ObjectReader(conn, length, res.leftover, this.buffers, release, this.requestTimeoutMs, signal);
      return { body, contentLength: length, contentRange: headers.get('content-range') };
    }
    conn.destroy();
    if (status === 404) throw s3Error(404, 'NoSuchKey', `no object at ${key}`);
    if (status === 416) throw s3Error(416, 'InvalidRange', `range ${range} is not satisfiable`);
    return null;
  }
}
