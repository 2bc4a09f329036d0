import { createHash } from 'node:crypto';

/** Every manifest type both registries know: Distribution 2.8 hides OCI manifests from clients that do not ask. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export function sha256(data: Uint8Array): string {
  return digestOf(data, 'sha256');
}

export function digestOf(data: Uint8Array, algorithm: 'sha256' | 'sha512'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string };
}

export class RegistryError extends Error {
  constructor(
    readonly request: string,
    readonly result: HttpResult,
  ) {
    super(`${request} -> ${result.status} ${result.body.toString('utf8').slice(0, 500)}`);
  }
}

/** A small OCI Distribution client for tests: no retries, no auth, every answer checked. */
export class OciClient {
  constructor(readonly baseUrl: string) {}

  async request(method: string, pathOrUrl: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<HttpResult> {
    const url = /^https?:/.test(pathOrUrl) ? pathOrUrl : new URL(pathOrUrl, this.baseUrl).toString();
    const res = await fetch(url, {
      method,
      headers: init.headers,
      body: init.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(30000),
    });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body };
  }

  private async expect(status: number | number[], method: string, path: string, init?: { headers?: Record<string, string>; body?: Uint8Array }): Promise<HttpResult> {
    const res = await this.request(method, path, init);
    const ok = Array.isArray(status) ? status.includes(res.status) : res.status === status;
    if (!ok) throw new RegistryError(`${method} ${path}`, res);
    return res;
  }

  private location(res: HttpResult, what: string): string {
    const loc = res.headers.get('location');
    if (!loc) throw new RegistryError(`${what} (no Location)`, res);
    return new URL(loc, this.baseUrl).toString();
  }

  private static withDigest(location: string, digest: string): string {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    return u.toString();
  }

  private async startUpload(repo: string): Promise<string> {
    const res = await this.expect(202, 'POST', `/v2/${repo}/blobs/uploads/`);
    return this.location(res, `POST /v2/${repo}/blobs/uploads/`);
  }

  /** `content` is the whole blob, for checking the answer; `body` what this PUT carries. */
  private async finishUpload(location: string, digest: string, content: Uint8Array, body?: Uint8Array): Promise<void> {
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    const res = await this.request('PUT', OciClient.withDigest(location, digest), { headers, body: body ?? new Uint8Array(0) });
    if (res.status !== 201) throw new RegistryError(`PUT upload ?digest=${digest}`, res);
    const got = res.headers.get('docker-content-digest');
    // Distribution 2.8 answers a sha512 upload with the blob's canonical sha256 digest.
    if (got !== digest && got !== sha256(content)) throw new RegistryError(`PUT upload: Docker-Content-Digest ${got}, want ${digest}`, res);
  }

  /** POST, then the whole blob in one PUT (the containerd shape). */
  async pushBlobMonolithic(repo: string, data: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
    const digest = digestOf(data, algorithm);
    await this.finishUpload(await this.startUpload(repo), digest, data, data);
    return digest;
  }

  /** POST, PATCHes with Content-Range, then a closing PUT with no body. */
  async pushBlobChunked(repo: string, data: Uint8Array, chunkSize: number): Promise<string> {
    const digest = sha256(data);
    let location = await this.startUpload(repo);
    for (let offset = 0; offset < data.length; offset += chunkSize) {
      const chunk = data.subarray(offset, Math.min(offset + chunkSize, data.length));
      const res = await this.request('PATCH', location, {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${offset}-${offset + chunk.length - 1}`,
          'Content-Length': String(chunk.length),
        },
        body: chunk,
      });
      if (res.status !== 202) throw new RegistryError(`PATCH ${offset}-${offset + chunk.length - 1}`, res);
      const range = res.headers.get('range');
      if (range !== `0-${offset + chunk.length - 1}`) throw new RegistryError(`PATCH: Range ${range}`, res);
      location = this.location(res, 'PATCH');
    }
    await this.finishUpload(location, digest, data);
    return digest;
  }

  /** Cross-repository mount; answers the status (201 mounted, 202 a plain upload session instead). */
  async mountBlob(repo: string, digest: string, from: string): Promise<number> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.expect([201, 202], 'POST', `/v2/${repo}/blobs/uploads/?${q.toString()}`);
    if (res.status === 202) await this.request('DELETE', this.location(res, 'mount'));
    return res.status;
  }

  async putManifest(repo: string, reference: string, body: Uint8Array, mediaType: string): Promise<string> {
    const res = await this.expect(201, 'PUT', `/v2/${repo}/manifests/${reference}`, {
      headers: { 'Content-Type': mediaType },
      body,
    });
    const digest = res.headers.get('docker-content-digest');
    if (digest !== sha256(body)) throw new RegistryError(`PUT manifest: Docker-Content-Digest ${digest}, want ${sha256(body)}`, res);
    return digest;
  }

  getManifest(repo: string, reference: string, method: 'GET' | 'HEAD' = 'GET'): Promise<HttpResult> {
    return this.request(method, `/v2/${repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
  }

  deleteManifest(repo: string, reference: string): Promise<HttpResult> {
    return this.request('DELETE', `/v2/${repo}/manifests/${reference}`);
  }

  getBlob(repo: string, digest: string, method: 'GET' | 'HEAD' = 'GET'): Promise<HttpResult> {
    return this.request(method, `/v2/${repo}/blobs/${digest}`);
  }

  async catalog(): Promise<string[]> {
    const res = await this.expect(200, 'GET', '/v2/_catalog');
    return (JSON.parse(res.body.toString('utf8')) as { repositories: string[] }).repositories;
  }

  async tags(repo: string): Promise<string[]> {
    const res = await this.expect(200, 'GET', `/v2/${repo}/tags/list`);
    return (JSON.parse(res.body.toString('utf8')) as { tags: string[] | null }).tags ?? [];
  }

  /** The tag list, or the status when there is none (Distribution 2.8: 404 for a repository without tags). */
  async tagsOrStatus(repo: string): Promise<string[] | number> {
    const res = await this.request('GET', `/v2/${repo}/tags/list`);
    if (res.status !== 200) return res.status;
    return (JSON.parse(res.body.toString('utf8')) as { tags: string[] | null }).tags ?? [];
  }

  async referrers(repo: string, subject: string): Promise<HttpResult> {
    return this.request('GET', `/v2/${repo}/referrers/${subject}`);
  }
}

/** JSON bytes exactly as given: tests compare them byte for byte. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
