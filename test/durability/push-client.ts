import { createHash, randomBytes } from 'node:crypto';

/** A minimal OCI push client over fetch, enough to drive a registry hard in durability tests. */
export function sha256(data: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export function randomBlob(min: number, max: number): Buffer {
  return randomBytes(min + Math.floor(Math.random() * (max - min)));
}

async function ok(res: Response, expected: number, what: string): Promise<Response> {
  if (res.status !== expected) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** POST, two ranged PATCHes, PUT: the chunked shape. */
export async function pushChunked(base: string, name: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  let res = await ok(await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' }), 202, 'POST');
  let location = new URL(res.headers.get('location')!, base).toString();
  const half = Math.floor(blob.length / 2);
  for (const [start, end] of [[0, half], [half, blob.length]]) {
    if (end <= start) continue;
    res = await ok(
      await fetch(location, {
        method: 'PATCH',
        body: blob.subarray(start, end),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${end - 1}` },
      }),
      202,
      'PATCH',
    );
    location = new URL(res.headers.get('location')!, base).toString();
  }
  const sep = location.includes('?') ? '&' : '?';
  await ok(await fetch(`${location}${sep}digest=${digest}`, { method: 'PUT' }), 201, 'PUT');
  return digest;
}

/** POST ?digest= with the whole body: the monolithic shape. */
export async function pushMonolithic(base: string, name: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  await ok(
    await fetch(`${base}/v2/${name}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: blob,
      headers: { 'Content-Type': 'application/octet-stream' },
    }),
    201,
    'POST ?digest',
  );
  return digest;
}

export function imageManifest(
  config: { digest: string; size: number },
  layers: Array<{ digest: string; size: number }>,
  annotations?: Record<string, string>,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
      ...(annotations && { annotations }),
    }),
  );
}

export async function putManifest(base: string, name: string, ref: string, manifest: Buffer): Promise<string> {
  await ok(
    await fetch(`${base}/v2/${name}/manifests/${ref}`, {
      method: 'PUT',
      body: manifest,
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    }),
    201,
    'PUT manifest',
  );
  return sha256(manifest);
}

export async function getBytes(url: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}
