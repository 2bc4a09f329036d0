import { createHash } from 'node:crypto';
import type { PatternBlob } from './blob-data';
import { expectStatus, type HttpClient } from './http-client';
import { rawPull } from './raw-pull';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Distribution 2.8 answers 404 for an OCI manifest unless the client says it accepts one. */
export const MANIFEST_ACCEPT = `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json`;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface Descriptor {
  digest: string;
  size: number;
}

function withDigest(location: string, client: HttpClient, digest: string): string {
  const url = client.url(location);
  url.searchParams.set('digest', digest);
  return url.pathname + url.search;
}

function location(reply: { headers: Record<string, unknown> }, what: string): string {
  const loc = reply.headers['location'];
  if (typeof loc !== 'string') throw new Error(`${what}: no Location header`);
  return loc;
}

export async function startUpload(client: HttpClient, repo: string): Promise<string> {
  const reply = expectStatus(`POST ${repo} upload`, await client.send('POST', `/v2/${repo}/blobs/uploads/`), 202);
  return location(reply, 'POST upload');
}

/** POST then PUT with the whole body: the monolithic shape. */
export async function pushMonolithic(client: HttpClient, repo: string, blob: PatternBlob): Promise<void> {
  const loc = await startUpload(client, repo);
  const headers = { 'content-type': 'application/octet-stream', 'content-length': blob.size };
  const reply = await client.send('PUT', withDigest(loc, client, blob.digest), { headers, write: (req) => blob.writeTo(req) });
  expectStatus(`PUT ${repo} blob`, reply, 201);
}

/** A small blob already in memory: POST then PUT. */
export async function pushBytes(client: HttpClient, repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<Descriptor> {
  const loc = await startUpload(client, repo);
  const reply = await client.send('PUT', withDigest(loc, client, digest), { headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  expectStatus(`PUT ${repo} small blob`, reply, 201);
  return { digest, size: bytes.length };
}

/** POST, ranged PATCHes of `chunk` bytes, then an empty PUT with the digest. */
export async function pushChunked(client: HttpClient, repo: string, blob: PatternBlob, chunk: number): Promise<void> {
  let loc = await startUpload(client, repo);
  for (let start = 0; start < blob.size; start += chunk) {
    const end = Math.min(blob.size, start + chunk);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': end - start, 'content-range': `${start}-${end - 1}` };
    const reply = await client.send('PATCH', loc, { headers, write: (req) => blob.writeTo(req, start, end) });
    expectStatus(`PATCH ${repo} ${start}-${end - 1}`, reply, 202);
    loc = location(reply, 'PATCH');
  }
  const reply = await client.send('PUT', withDigest(loc, client, blob.digest), { headers: { 'content-length': 0 } });
  expectStatus(`PUT ${repo} after chunks`, reply, 201);
}

/** POST, one PATCH with chunked transfer encoding carrying everything, then an empty PUT: docker's shape. */
export async function pushStreamed(client: HttpClient, repo: string, blob: PatternBlob): Promise<void> {
  const loc = await startUpload(client, repo);
  const reply = await client.send('PATCH', loc, { headers: { 'content-type': 'application/octet-stream' }, write: (req) => blob.writeTo(req) });
  expectStatus(`PATCH ${repo} streamed`, reply, 202);
  const done = await client.send('PUT', withDigest(location(reply, 'PATCH'), client, blob.digest), { headers: { 'content-length': 0 } });
  expectStatus(`PUT ${repo} after stream`, done, 201);
}

/** GETs a blob on its own connection and discards it; returns the bytes received. */
export async function pullBlob(client: HttpClient, repo: string, digest: string): Promise<number> {
  const url = client.url('/');
  const reply = await rawPull(url.hostname, Number(url.port), `/v2/${repo}/blobs/${digest}`);
  if (reply.status !== 200) throw new Error(`GET ${repo} blob: status ${reply.status}`);
  return reply.bytes;
}

export const CONFIG_BYTES = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));

export function manifestBytes(config: Descriptor, layers: Descriptor[], annotation?: string): Buffer {
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
  };
  if (annotation !== undefined) manifest.annotations = { 'org.example.bench': annotation };
  return Buffer.from(JSON.stringify(manifest));
}

export async function putManifest(client: HttpClient, repo: string, reference: string, bytes: Buffer): Promise<string> {
  const reply = await client.send('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'content-type': OCI_MANIFEST }, body: bytes });
  expectStatus(`PUT ${repo} manifest ${reference}`, reply, 201);
  return sha256(bytes);
}

/** A repository holding a config, one small layer and a manifest tagged `tag`. */
export async function seedImage(client: HttpClient, repo: string, tag: string, layer: Buffer): Promise<{ manifest: Buffer; digest: string; layer: Descriptor; config: Descriptor }> {
  const config = await pushBytes(client, repo, CONFIG_BYTES);
  const layerDesc = await pushBytes(client, repo, layer);
  const manifest = manifestBytes(config, [layerDesc]);
  const digest = await putManifest(client, repo, tag, manifest);
  return { manifest, digest, layer: layerDesc, config };
}
