import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, sha256 } from './images';

export const ACCEPT_ALL_MANIFESTS = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

export interface FetchedManifest {
  digest: string;
  contentType: string;
  body: Buffer;
}

/**
 * GET and HEAD of a manifest, checked for consistency: both answer 200 with the same
 * Docker-Content-Digest, which is the sha256 of the body GET returns, and Content-Length matches.
 */
export async function fetchManifest(url: string, name: string, ref: string): Promise<FetchedManifest> {
  const target = `${url}/v2/${name}/manifests/${ref}`;
  const headers = { Accept: ACCEPT_ALL_MANIFESTS };
  const get = await fetch(target, { headers, signal: AbortSignal.timeout(30_000) });
  const body = Buffer.from(await get.arrayBuffer());
  assert.equal(get.status, 200, `GET ${target}: ${get.status} ${body.toString('utf8')}`);
  const digest = get.headers.get('docker-content-digest') ?? '';
  assert.equal(digest, sha256(body), `GET ${target}: Docker-Content-Digest is not the digest of the body`);
  const head = await fetch(target, { method: 'HEAD', headers, signal: AbortSignal.timeout(30_000) });
  await head.arrayBuffer();
  assert.equal(head.status, 200, `HEAD ${target}: ${head.status}`);
  assert.equal(head.headers.get('docker-content-digest'), digest, `HEAD ${target}: digest differs from GET`);
  assert.equal(head.headers.get('content-length'), String(body.length), `HEAD ${target}: Content-Length`);
  return { digest, contentType: get.headers.get('content-type') ?? '', body };
}

/** Streams a blob and returns the digest of what arrived, to compare with the digest asked for. */
export async function fetchBlobDigest(url: string, name: string, digest: string): Promise<string> {
  const res = await fetch(`${url}/v2/${name}/blobs/${digest}`, { signal: AbortSignal.timeout(60_000) });
  assert.equal(res.status, 200, `GET blob ${name}@${digest}: ${res.status}`);
  const hash = createHash('sha256');
  for await (const chunk of res.body!) hash.update(chunk as Uint8Array);
  return 'sha256:' + hash.digest('hex');
}

/** Every blob a manifest references can be fetched from `name` and hashes to its digest. */
export async function assertBlobsServed(url: string, name: string, manifest: Buffer): Promise<number> {
  const json = JSON.parse(manifest.toString('utf8')) as { config?: { digest: string }; layers?: { digest: string }[] };
  const digests = [json.config?.digest, ...(json.layers ?? []).map((l) => l.digest)].filter((d): d is string => !!d);
  for (const d of digests) assert.equal(await fetchBlobDigest(url, name, d), d, `blob ${d} in ${name}`);
  return digests.length;
}
