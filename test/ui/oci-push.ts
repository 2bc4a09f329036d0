import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

/** Pushes of what docker cannot push offline (an index of images already pushed, an artifact with a subject), over HTTP. */
export interface Pushed {
  digest: string;
  size: number;
  mediaType: string;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The manifest `reference` of `repo` as the registry describes it (HEAD). */
export async function describeManifest(url: string, authorization: string, repo: string, reference: string): Promise<Pushed> {
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, { method: 'HEAD', headers: { authorization, accept } });
  assert.equal(res.status, 200, `HEAD ${repo}:${reference}`);
  return { digest: String(res.headers.get('docker-content-digest')), size: Number(res.headers.get('content-length')), mediaType: String(res.headers.get('content-type')) };
}

async function putManifest(url: string, authorization: string, repo: string, reference: string, mediaType: string, manifest: unknown): Promise<Pushed> {
  const body = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { authorization, 'content-type': mediaType }, body });
  assert.equal(res.status, 201, `PUT ${repo}:${reference}: ${await res.text()}`);
  return { digest: sha256(body), size: body.length, mediaType };
}

async function putBlob(url: string, authorization: string, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { authorization, 'content-type': 'application/octet-stream' }, body: blob });
  assert.equal(res.status, 201, `blob upload to ${repo}: ${await res.text()}`);
  return digest;
}

/** An OCI index at `repo:tag` over images already in `repo`, each with its platform. */
export function pushIndex(url: string, authorization: string, repo: string, tag: string, images: Array<{ image: Pushed; os: string; architecture: string }>): Promise<Pushed> {
  const mediaType = 'application/vnd.oci.image.index.v1+json';
  const manifests = images.map(({ image, os, architecture }) => ({ ...image, platform: { os, architecture } }));
  return putManifest(url, authorization, repo, tag, mediaType, { schemaVersion: 2, mediaType, manifests });
}

/** An OCI 1.1 artifact (empty config, one layer holding `content`) whose subject is `subject`, pushed by digest. */
export async function pushReferrer(url: string, authorization: string, repo: string, subject: Pushed, artifactType: string, content: string, created: string): Promise<Pushed> {
  const empty = Buffer.from('{}');
  const layer = Buffer.from(content);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = {
    schemaVersion: 2,
    mediaType,
    artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await putBlob(url, authorization, repo, empty), size: empty.length },
    layers: [{ mediaType: artifactType, digest: await putBlob(url, authorization, repo, layer), size: layer.length }],
    subject,
    annotations: { 'org.opencontainers.image.created': created },
  };
  const body = Buffer.from(JSON.stringify(manifest));
  return putManifest(url, authorization, repo, sha256(body), mediaType, manifest);
}

/** An index over two images, an SBOM referring to one of them and a signature of the index. */
export type MultiPlatform = Record<'index' | 'amd64' | 'arm64' | 'sbom' | 'signature', Pushed>;

/** Makes `repo:v1` an index over the images tagged `amd64` and `arm64` in it, with two referrers (MultiPlatform). */
export async function pushMultiPlatform(url: string, authorization: string, repo: string): Promise<MultiPlatform> {
  const amd64 = await describeManifest(url, authorization, repo, 'amd64');
  const arm64 = await describeManifest(url, authorization, repo, 'arm64');
  const index = await pushIndex(url, authorization, repo, 'v1', [
    { image: amd64, os: 'linux', architecture: 'amd64' },
    { image: arm64, os: 'linux', architecture: 'arm64' },
  ]);
  const sbom = await pushReferrer(url, authorization, repo, amd64, 'application/spdx+json', JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'hello' }), '2026-01-02T03:04:05Z');
  const signature = await pushReferrer(url, authorization, repo, index, 'application/vnd.dev.cosign.artifact.sig.v1+json', '{"critical":{}}', '2026-01-02T03:04:06Z');
  return { index, amd64, arm64, sbom, signature };
}
