import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { OCI_MANIFEST, sha256 } from '../helpers/images';
import { ACCEPT_ALL_MANIFESTS } from '../helpers/registry-client';

/**
 * Just enough of the distribution API to drive each step of a push at a chosen replica. Locations
 * are followed by path, so a session one replica started can be continued on another.
 */

export interface Blob {
  data: Buffer;
  digest: string;
}

export function randomBlob(size: number): Blob {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

/** `location` (absolute or relative) moved onto `base`, i.e. sent to another replica. */
export function at(base: string, location: string): string {
  const u = new URL(location, base);
  return `${base}${u.pathname}${u.search}`;
}

const TIMEOUT = () => AbortSignal.timeout(60_000);

async function expectStatus(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) assert.fail(`${what}: expected ${status}, got ${res.status} ${await res.text()}`);
  return res;
}

function location(res: Response): string {
  const loc = res.headers.get('location');
  assert.ok(loc, 'response carries a Location');
  return loc;
}

export async function startUpload(base: string, name: string): Promise<string> {
  const res = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST', signal: TIMEOUT() });
  await expectStatus(res, 202, `POST ${base} /v2/${name}/blobs/uploads/`);
  await res.arrayBuffer();
  return location(res);
}

/** A ranged PATCH of `data` at `offset`; returns the next Location and the Range answered. */
export async function patchChunk(base: string, loc: string, offset: number, data: Buffer): Promise<{ location: string; range: string }> {
  const res = await fetch(at(base, loc), {
    method: 'PATCH',
    body: data,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + data.length - 1}` },
    signal: TIMEOUT(),
  });
  await expectStatus(res, 202, `PATCH ${at(base, loc)} at ${offset}`);
  await res.arrayBuffer();
  return { location: location(res), range: res.headers.get('range') ?? '' };
}

/** The Docker engine's shape: one PATCH streamed chunked, with neither Content-Range nor Content-Length. */
export async function patchStreamed(base: string, loc: string, data: Buffer): Promise<{ location: string; range: string }> {
  const pieces = [data.subarray(0, data.length >> 1), data.subarray(data.length >> 1)];
  const res = await fetch(at(base, loc), {
    method: 'PATCH',
    body: Readable.toWeb(Readable.from(pieces)) as ReadableStream<Uint8Array>,
    duplex: 'half',
    headers: { 'Content-Type': 'application/octet-stream' },
    signal: TIMEOUT(),
  });
  await expectStatus(res, 202, `streamed PATCH ${at(base, loc)}`);
  await res.arrayBuffer();
  return { location: location(res), range: res.headers.get('range') ?? '' };
}

export async function uploadStatus(base: string, loc: string): Promise<string> {
  const res = await fetch(at(base, loc), { signal: TIMEOUT() });
  await expectStatus(res, 204, `GET upload status ${at(base, loc)}`);
  return res.headers.get('range') ?? '';
}

/** The closing PUT, with an optional last chunk; returns the Docker-Content-Digest answered. */
export async function finishUpload(base: string, loc: string, digest: string, last?: Buffer): Promise<string> {
  const u = new URL(at(base, loc));
  u.searchParams.set('digest', digest);
  const res = await fetch(u, {
    method: 'PUT',
    body: last,
    headers: last ? { 'Content-Type': 'application/octet-stream' } : {},
    signal: TIMEOUT(),
  });
  await expectStatus(res, 201, `PUT ${u.href}`);
  await res.arrayBuffer();
  return res.headers.get('docker-content-digest') ?? '';
}

/** POST then PATCH, PATCH, PUT; each request goes to the next of `bases` in turn. */
export async function pushChunked(bases: readonly string[], name: string, blob: Blob): Promise<void> {
  let i = 0;
  const base = () => bases[i++ % bases.length];
  let loc = await startUpload(base(), name);
  const half = blob.data.length >> 1;
  loc = (await patchChunk(base(), loc, 0, blob.data.subarray(0, half))).location;
  loc = (await patchChunk(base(), loc, half, blob.data.subarray(half))).location;
  assert.equal(await finishUpload(base(), loc, blob.digest), blob.digest);
}

/** POST ?digest= with the whole blob. */
export async function pushMonolithic(base: string, name: string, blob: Blob): Promise<void> {
  const res = await fetch(`${base}/v2/${name}/blobs/uploads/?digest=${blob.digest}`, {
    method: 'POST',
    body: blob.data,
    headers: { 'Content-Type': 'application/octet-stream' },
    signal: TIMEOUT(),
  });
  await expectStatus(res, 201, `POST ?digest= ${base} ${name}`);
  await res.arrayBuffer();
}

export interface Manifest {
  bytes: Buffer;
  digest: string;
  blobs: string[];
}

export function imageManifest(config: Blob, layers: readonly Blob[]): Manifest {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.data.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.data.length })),
    }),
  );
  return { bytes, digest: sha256(bytes), blobs: [config.digest, ...layers.map((l) => l.digest)] };
}

export async function putManifest(base: string, name: string, ref: string, manifest: Manifest): Promise<string> {
  const res = await fetch(`${base}/v2/${name}/manifests/${ref}`, {
    method: 'PUT',
    body: manifest.bytes,
    headers: { 'Content-Type': OCI_MANIFEST },
    signal: TIMEOUT(),
  });
  await expectStatus(res, 201, `PUT manifest ${base} ${name}:${ref}`);
  await res.arrayBuffer();
  return res.headers.get('docker-content-digest') ?? '';
}

/** GET of a manifest, as status, digest header and body (the caller decides what is acceptable). */
export async function getManifest(base: string, name: string, ref: string): Promise<{ status: number; digest: string; body: Buffer }> {
  const res = await fetch(`${base}/v2/${name}/manifests/${ref}`, { headers: { Accept: ACCEPT_ALL_MANIFESTS }, signal: TIMEOUT() });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: res.headers.get('docker-content-digest') ?? '', body };
}

export async function listTags(base: string, name: string): Promise<string[]> {
  const res = await fetch(`${base}/v2/${name}/tags/list`, { signal: TIMEOUT() });
  await expectStatus(res, 200, `GET tags/list ${base} ${name}`);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

let repos = 0;
/** A repository name no other test uses. */
export function repoName(prefix: string): string {
  return `replicas/${prefix}-${process.pid}-${++repos}`;
}
