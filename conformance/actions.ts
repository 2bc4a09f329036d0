import assert from 'node:assert/strict';
import { type Client, type Reply, expectStatus, withQuery } from './client';
import type { Blob, Manifest } from './fixtures';

/** POST then PUT, the monolithic upload every registry must accept. Returns the PUT's reply. */
export async function pushBlob(client: Client, name: string, blob: Blob): Promise<Reply> {
  const started = await client.send('POST', `/v2/${name}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
  expectStatus(started, 202);
  const put = await client.send('PUT', withQuery(client.location(started), { digest: blob.digest }), {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob.data,
  });
  expectStatus(put, 201);
  return put;
}

export async function pushManifest(client: Client, name: string, reference: string, manifest: Manifest): Promise<Reply> {
  const put = await client.send('PUT', `/v2/${name}/manifests/${reference}`, {
    headers: { 'Content-Type': manifest.mediaType },
    body: manifest.bytes,
  });
  expectStatus(put, 201);
  return put;
}

/** Pushes the blobs first, then the manifest under each reference (the spec's push order). */
export async function pushImage(client: Client, name: string, blobs: Blob[], manifest: Manifest, references: string[]): Promise<void> {
  for (const blob of blobs) await pushBlob(client, name, blob);
  assert.ok(references.length > 0);
  for (const ref of references) await pushManifest(client, name, ref, manifest);
}
