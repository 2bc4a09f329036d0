import { type $Command, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, type S3ClientResolvedConfig, S3ServiceException, type ServiceInputTypes, type ServiceOutputTypes, type StorageClass } from '@aws-sdk/client-s3';
import { addAbortSignal, type Readable } from 'node:stream';
import type { ObjectDownloads } from './object-download';
import type { ResolvedS3Options } from './options';
import type { SmallRequests } from './small-requests';
import { stallGuard, withDeadline } from './timeouts';

/** Any command of the S3 client, with its input and output types. */
type S3Command<I extends ServiceInputTypes, O extends ServiceOutputTypes> = $Command<I, O, S3ClientResolvedConfig, ServiceInputTypes, ServiceOutputTypes>;

function sendOne<I extends ServiceInputTypes, O extends ServiceOutputTypes>(client: S3Client, command: S3Command<I, O>, signal: AbortSignal | undefined): Promise<O> {
  return client.send(command, { abortSignal: signal });
}

/**
 * An uncommitted upload keeps its short tail (and the id of its multipart upload) in an object
 * next to the target key. Its name holds `#`, which no valid storage path contains, so it can never
 * collide with content; listings show it as the target path.
 */
export const UPLOAD_SUFFIX = '#upload';

/** An error of the SDK's kind for an answer settled outside it (its status is what callers test). */
export function s3Error(status: number, name: string, message: string): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
}

/** A header's plain decimal Content-Length, or undefined. */
function plainLength(headers: Map<string, string>): number | undefined {
  const value = headers.get('content-length') ?? '';
  const n = Number(value);
  return /^\d+$/.test(value) && Number.isSafeInteger(n) ? n : undefined;
}

/**
 * What every part of the driver needs: the clients, the resolved options, and key mapping. Every
 * request goes through `send`, `transfer`, `download`, `getObject` or the small-object calls
 * (`headObject`, `getSmall`, `putSmall`), so none can hang on a server that stopped answering: each
 * fails as a timeout (a storage fault, see src/storage-faults) within its bound.
 *
 * The small-object calls go out on `small` (signed without the SDK's per-request machinery) when
 * there is one, and settle there what needs no retry: success, 404, and a conditional PUT's 412.
 * Anything else (an error status, a connection lost before its answer, a head the strict parser
 * refuses) is sent again through the SDK, whose retries apply, within the same deadline. A PUT
 * whose answer was lost may have been applied: sent again it writes the same bytes, and a
 * conditional one then meets its own object (412), as the SDK's own retry of it would.
 */
export class S3Context {
  constructor(
    private readonly client: S3Client,
    readonly options: ResolvedS3Options,
    /** A client without a socket idle timeout, for downloads a slow reader may hold back. */
    private readonly downloadClient: S3Client = client,
    /** Reads object bodies into reused buffers; without it every GET goes through the SDK. */
    private readonly downloads?: ObjectDownloads,
    /** Small HEAD, GET and PUT outside the SDK; without it they go through the SDK. */
    private readonly small?: SmallRequests,
  ) {}

  /** A small request (metadata, listings, small objects): it must finish, retries included, within requesttimeout. */
  send<I extends ServiceInputTypes, O extends ServiceOutputTypes>(command: S3Command<I, O>, signal?: AbortSignal): Promise<O> {
    return withDeadline(this.options.requestTimeoutMs, signal, (s) => sendOne(this.client, command, s));
  }

  /** The object's size and time (the SDK's output fields); the SDK's 404 error when it is absent. */
  headObject(key: string, signal?: AbortSignal): Promise<{ ContentLength?: number; LastModified?: Date }> {
    return withDeadline(this.options.requestTimeoutMs, signal, async (s) => {
      const res = await this.small?.send('HEAD', key, {}, undefined, s);
      const length = res?.status === 200 ? plainLength(res.headers) : undefined;
      if (length !== undefined) {
        const modified = new Date(res!.headers.get('last-modified') ?? NaN);
        return { ContentLength: length, LastModified: Number.isNaN(modified.getTime()) ? undefined : modified };
      }
      if (res?.status === 404) throw s3Error(404, 'NotFound', `no object at ${key}`);
      return sendOne(this.client, new HeadObjectCommand({ Bucket: this.bucket, Key: key }), s);
    });
  }

  /** A small object's bytes: the GET, body included, must finish within requesttimeout. */
  getSmall(key: string, signal?: AbortSignal): Promise<Buffer> {
    return withDeadline(this.options.requestTimeoutMs, signal, async (s) => {
      const res = await this.small?.send('GET', key, {}, undefined, s);
      if (res?.status === 200 && res.body) return res.body;
      if (res?.status === 404) throw s3Error(404, 'NoSuchKey', `no object at ${key}`);
      const got = await sendOne(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), s);
      return Buffer.from(await got.Body!.transformToByteArray());
    });
  }

  /**
   * PutObject of a small body with the driver's write options; with `ifNoneMatch`, only where no
   * object is (the SDK's 412 error otherwise).
   */
  putSmall(key: string, body: Uint8Array, ifNoneMatch: boolean, signal?: AbortSignal): Promise<unknown> {
    return withDeadline(this.options.requestTimeoutMs, signal, async (s) => {
      const res = await this.small?.send('PUT', key, ifNoneMatch ? { ...this.writeHeaders, 'if-none-match': '*' } : this.writeHeaders, body, s);
      if (res?.status === 200) return;
      if (res?.status === 412 && ifNoneMatch) throw s3Error(412, 'PreconditionFailed', `an object is at ${key}`);
      return sendOne(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length, IfNoneMatch: ifNoneMatch ? '*' : undefined, ...this.writeOptions }), s);
    });
  }

  /**
   * A request whose size grows with a blob (part uploads, copies, completing a large upload): it
   * fails after requesttimeout without a byte moving on its socket, however long it takes overall.
   */
  transfer<I extends ServiceInputTypes, O extends ServiceOutputTypes>(command: S3Command<I, O>, signal?: AbortSignal): Promise<O> {
    return sendOne(this.client, command, signal);
  }

  /**
   * A GET whose body streams to a client: its answer must start within requesttimeout; then the
   * body fails only when it stalls that long while its reader waits for bytes (see stallGuard).
   */
  async download<I extends ServiceInputTypes, O extends ServiceOutputTypes & { Body?: unknown }>(command: S3Command<I, O>, signal?: AbortSignal): Promise<O & { Body: Readable }> {
    const got = await withDeadline(this.options.requestTimeoutMs, signal, (s) => sendOne(this.downloadClient, command, s));
    return { ...got, Body: stallGuard(got.Body as Readable, this.options.requestTimeoutMs) };
  }

  /**
   * An object's body (bytes `range` of it) for a reader, as download() bounds it, and destroyed
   * when `signal` aborts: through `downloads` where it can, else through the SDK. Errors are the
   * SDK's either way.
   */
  async getObject(key: string, range: string | undefined, signal?: AbortSignal): Promise<{ Body: Readable; ContentLength?: number; ContentRange?: string }> {
    const direct = await this.downloads?.open(key, range, signal);
    if (direct) return { Body: direct.body, ContentLength: direct.contentLength, ContentRange: direct.contentRange };
    const got = await this.download(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }), signal);
    return signal ? { ...got, Body: addAbortSignal(signal, got.Body) } : got;
  }

  get bucket(): string {
    return this.options.bucket;
  }

  /** Object key of a (non-root) driver path. */
  key(path: string): string {
    return this.options.rootPrefix + path.slice(1);
  }

  /** Key prefix of everything below a driver path ('' or 'x/' for the root). */
  dirPrefix(path: string): string {
    return path === '/' ? this.options.rootPrefix : `${this.key(path)}/`;
  }

  uploadKey(path: string): string {
    return this.key(path) + UPLOAD_SUFFIX;
  }

  /** writeOptions as the headers of a PutObject. */
  private get writeHeaders(): Record<string, string> {
    const { ServerSideEncryption, SSEKMSKeyId, StorageClass } = this.writeOptions;
    const headers: Record<string, string> = {};
    if (ServerSideEncryption) headers['x-amz-server-side-encryption'] = ServerSideEncryption;
    if (SSEKMSKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = SSEKMSKeyId;
    if (StorageClass) headers['x-amz-storage-class'] = StorageClass;
    return headers;
  }

  /** Options that every object this driver creates carries. */
  get writeOptions(): { ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string; StorageClass?: StorageClass } {
    return { ...this.options.encryption, StorageClass: this.options.storageClass as StorageClass | undefined };
  }
}

/**
 * The SDK client. Checksums only where an operation requires them: RGW rejects the SDK's default
 * streaming checksums and verifies none. The JavaScript SDK does not read AWS_CA_BUNDLE (the CLI and
 * the Go SDK do); an https endpoint with a private CA needs NODE_EXTRA_CA_CERTS, which Node reads.
 * Its sockets time out after requesttimeout of inactivity, except with `idleTimeout: false`: a
 * download paused by a slow client leaves its S3 socket idle (stallGuard watches those instead).
 */
export function createS3Client(o: ResolvedS3Options, { endpoint = o.endpoint, idleTimeout = true } = {}): S3Client {
  return new S3Client({
    region: o.region,
    endpoint,
    forcePathStyle: o.forcePathStyle,
    credentials: o.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: o.connectTimeoutMs, socketTimeout: idleTimeout ? o.requestTimeoutMs : undefined },
  });
}

export function httpStatus(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

/** NoSuchKey, NotFound (HEAD has no body), NoSuchUpload. */
export function isMissing(err: unknown): boolean {
  return httpStatus(err) === 404;
}
