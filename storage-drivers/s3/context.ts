import { type $Command, GetObjectCommand, S3Client, type S3ClientResolvedConfig, S3ServiceException, type ServiceInputTypes, type ServiceOutputTypes, type StorageClass } from '@aws-sdk/client-s3';
import { addAbortSignal, type Readable } from 'node:stream';
import type { ObjectDownloads } from './object-download';
import type { ResolvedS3Options } from './options';
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

/**
 * What every part of the driver needs: the clients, the resolved options, and key mapping. Every
 * request goes through `send`, `transfer`, `download` or `getObject`, so none can hang on a server
 * that stopped answering: each fails as a timeout (a storage fault, see src/storage-faults) within
 * its bound.
 */
export class S3Context {
  constructor(
    private readonly client: S3Client,
    readonly options: ResolvedS3Options,
    /** A client without a socket idle timeout, for downloads a slow reader may hold back. */
    private readonly downloadClient: S3Client = client,
    /** Reads object bodies into reused buffers; without it every GET goes through the SDK. */
    private readonly downloads?: ObjectDownloads,
  ) {}

  /** A small request (metadata, listings, small objects): it must finish, retries included, within requesttimeout. */
  send<I extends ServiceInputTypes, O extends ServiceOutputTypes>(command: S3Command<I, O>, signal?: AbortSignal): Promise<O> {
    return withDeadline(this.options.requestTimeoutMs, signal, (s) => sendOne(this.client, command, s));
  }

  /** A small object's bytes: the GET, body included, must finish within requesttimeout. */
  getSmall(command: GetObjectCommand, signal?: AbortSignal): Promise<Buffer> {
    return withDeadline(this.options.requestTimeoutMs, signal, async (s) => {
      const got = await sendOne(this.client, command, s);
      return Buffer.from(await got.Body!.transformToByteArray());
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
