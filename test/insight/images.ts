import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { layerBlob, type TestEntry } from '../unit/insight/layers';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Blob {
  data: Buffer;
  digest: string;
  size: number;
}

export function blob(data: Buffer): Blob {
  return { data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length };
}

/** A client of one registry over fetch, with an optional Authorization for every request. */
export class Pusher {
  constructor(
    readonly url: string,
    private readonly authorization?: string,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.authorization ? { authorization: this.authorization, ...extra } : extra;
  }

  async blob(name: string, b: Blob): Promise<void> {
    const start = await fetch(`${this.url}/v2/${name}/blobs/uploads/`, { method: 'POST', headers: this.headers({ 'content-length': '0' }) });
    assert.equal(start.status, 202, await start.text());
    const location = new URL(start.headers.get('location')!, this.url);
    location.searchParams.set('digest', b.digest);
    const put = await fetch(location, { method: 'PUT', headers: this.headers({ 'content-type': 'application/octet-stream' }), body: b.data });
    assert.equal(put.status, 201, await put.text());
  }

  async manifest(name: string, reference: string, mediaType: string, json: unknown): Promise<Blob> {
    const m = blob(Buffer.from(JSON.stringify(json)));
    const put = await fetch(`${this.url}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: this.headers({ 'content-type': mediaType }), body: m.data });
    assert.equal(put.status, 201, await put.text());
    return m;
  }

  get(path: string): Promise<Response> {
    return fetch(`${this.url}${path}`, { headers: this.headers() });
  }
}

export interface ImageSpec {
  layers: TestEntry[][];
  /** The config's history (empty_layer entries included as given). */
  history?: Array<{ created_by?: string; empty_layer?: boolean }>;
  env?: string[];
  docker?: boolean;
  platform?: { architecture: string; os: string };
}

export interface PushedImage {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
}

/** Builds the layers with tar-stream and gzip, pushes them, the config and the manifest. */
export async function pushImage(p: Pusher, name: string, reference: string | undefined, spec: ImageSpec): Promise<PushedImage> {
  const layers = await Promise.all(spec.layers.map(async (entries) => blob(await layerBlob(entries))));
  const platform = spec.platform ?? { architecture: 'amd64', os: 'linux' };
  const config = blob(
    Buffer.from(JSON.stringify({ ...platform, config: { Env: spec.env ?? ['PATH=/usr/bin'] }, rootfs: { type: 'layers', diff_ids: [] }, history: spec.history ?? [] })),
  );
  for (const b of [config, ...layers]) await p.blob(name, b);
  const [manifestType, configType, layerType] = spec.docker ? [MT.dockerManifest, MT.dockerConfig, MT.dockerLayer] : [MT.ociManifest, MT.ociConfig, MT.ociLayer];
  const json = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: { mediaType: configType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size })),
  };
  const manifest = blob(Buffer.from(JSON.stringify(json)));
  await p.manifest(name, reference ?? manifest.digest, manifestType, json);
  return { manifest, config, layers };
}

/** `size` bytes of `c`, as file content. */
export function bytes(size: number, c = 'x'): Buffer {
  return Buffer.alloc(size, c);
}

export const PEM = `-----BEGIN OPENSSH PRIVATE KEY-----\n${'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'.repeat(3)}\n-----END OPENSSH PRIVATE KEY-----\n`;

/**
 * Layer 0 ships app/big.bin (10000), app/keep.txt (100), etc/conf (50) and a private key (PEM);
 * layer 1 deletes big.bin and the key, adds app/new.txt (200); layer 2 makes etc opaque and adds
 * etc/other (30). History interleaves empty_layer entries.
 */
export const THREE_LAYERS = {
  layers: [
    [
      { name: 'app/' },
      { name: 'app/big.bin', content: bytes(10000) },
      { name: 'app/keep.txt', content: bytes(100) },
      { name: 'app/id_ed25519', content: PEM },
      { name: 'etc/' },
      { name: 'etc/conf', content: bytes(50) },
    ],
    [
      { name: 'app/.wh.big.bin', content: '' },
      { name: 'app/.wh.id_ed25519', content: '' },
      { name: 'app/new.txt', content: bytes(200) },
    ],
    [
      { name: 'etc/.wh..wh..opq', content: '' },
      { name: 'etc/other', content: bytes(30) },
    ],
  ],
  history: [
    { created_by: 'ADD rootfs.tar /' },
    { created_by: 'ENV A=1', empty_layer: true },
    { created_by: 'RUN rm /app/big.bin /app/id_ed25519 && make' },
    { created_by: 'LABEL x=y', empty_layer: true },
    { created_by: 'COPY etc /etc' },
  ],
  env: ['PATH=/usr/bin', 'DB_PASSWORD=correct-horse-battery'],
};
