import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

/** SigV4's hash and HMAC, from node:crypto (the SDK's own is the same in Node, behind more layers). */
class Sha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' || ArrayBuffer.isView(this.secret) ? this.secret : new Uint8Array(this.secret);
    return createHmac('sha256', key as string | Uint8Array);
  }

  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

/** S3's escaping of a key in a path (the SDK's extendedEncodeURIComponent, `/` kept). */
function escapeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

export interface SignedRequest {
  url: URL;
  /** Every header to send but Host and Content-Length (the signature covers Host). */
  headers: Record<string, string>;
}

/**
 * Signs requests for objects of one bucket with the client's credentials and region, the way the
 * SDK's client does (SigV4, S3's single path escaping, the body's SHA-256 in x-amz-content-sha256),
 * without the SDK's per-request middleware: endpoint resolution, which copies the client's config
 * on every request, runs once here, for a presigned URL whose path gives the bucket's base.
 */
export class RequestSigner {
  private readonly signer: SignatureV4;
  private base: Promise<URL> | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {
    // The client's providers cache credentials and refresh them before they expire.
    this.signer = new SignatureV4({ credentials: client.config.credentials, region: client.config.region, service: 's3', sha256: Sha256, uriEscapePath: false });
  }

  /** The URL of key `k` minus the `k`: `endpoint/bucket/` (path style) or `bucket.endpoint/`. */
  private baseUrl(): Promise<URL> {
    this.base ??= getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: 'k' })).then((signed) => {
      const url = new URL(signed);
      if (!url.pathname.endsWith('/k')) throw new Error(`unexpected object URL shape: ${url.pathname}`);
      return new URL(`${url.origin}${url.pathname.slice(0, -1)}`);
    });
    // A failed resolution is tried again on the next request.
    this.base.catch(() => (this.base = undefined));
    return this.base;
  }

  async sign(method: string, key: string, headers: Record<string, string>, body?: Uint8Array): Promise<SignedRequest> {
    const base = await this.baseUrl();
    const path = base.pathname + escapeKey(key);
    const request = {
      method,
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port === '' ? undefined : Number(base.port),
      path,
      query: {},
      headers: { ...headers, host: base.host },
      body,
    };
    // The SDK's correction for a clock that differs from the service's (learnt from its answers' Date).
    const signed = await this.signer.sign(request, { signingDate: new Date(Date.now() + (this.client.config.systemClockOffset ?? 0)) });
    const { host: _host, ...rest } = signed.headers;
    return { url: new URL(path, base), headers: rest };
  }
}
