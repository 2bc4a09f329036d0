import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, OciClient, jsonBytes, sha256 } from './oci-client';
import { layoutDigest, skopeo } from './tools';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** The same bytes on every run, so that two registries can be given identical pushes. */
export function fixedBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < length; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export interface PushedManifest {
  repo: string;
  digest: string;
  mediaType: string;
  /** Bytes as pushed (unknown when skopeo converted them). */
  bytes?: Buffer;
  tags: string[];
}

export interface PushedBlob {
  repo: string;
  digest: string;
  bytes: Buffer;
}

export interface Scenario {
  repos: string[];
  /** Repositories with blobs and no tag: Distribution 2.8 lists them in the catalog, and 404s their tag list. */
  untaggedRepos: string[];
  /** An artifact whose subject is another manifest: the referrers API must list it. */
  referrer: { repo: string; subject: string; digest: string; artifactType: string; size: number };
  tags: Record<string, string[]>;
  manifests: PushedManifest[];
  blobs: PushedBlob[];
  /** Manifests deleted by digest: both registries must answer 404 for them. */
  deleted: Array<{ repo: string; digest: string }>;
}

interface Ctx {
  client: OciClient;
  s: Scenario;
}

async function blob(c: Ctx, repo: string, bytes: Buffer, chunkSize?: number, algorithm?: 'sha512'): Promise<{ digest: string; size: number }> {
  const digest = chunkSize ? await c.client.pushBlobChunked(repo, bytes, chunkSize) : await c.client.pushBlobMonolithic(repo, bytes, algorithm);
  c.s.blobs.push({ repo, digest, bytes });
  return { digest, size: bytes.length };
}

async function manifest(c: Ctx, repo: string, mediaType: string, body: unknown, tags: string[]): Promise<{ digest: string; size: number }> {
  const bytes = jsonBytes(body);
  const digest = sha256(bytes);
  if (tags.length === 0) await c.client.putManifest(repo, digest, bytes, mediaType);
  for (const tag of tags) await c.client.putManifest(repo, tag, bytes, mediaType);
  c.s.manifests.push({ repo, digest, mediaType, bytes, tags });
  return { digest, size: bytes.length };
}

function ociImage(config: { digest: string; size: number }, layers: Array<{ digest: string; size: number }>, annotations?: Record<string, string>) {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...config },
    layers: layers.map((l) => ({ mediaType: OCI_LAYER, ...l })),
    ...(annotations ? { annotations } : {}),
  };
}

function imageConfig(arch: string, layers: number): Buffer {
  return jsonBytes({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: Array(layers).fill(sha256(Buffer.from(arch))) } });
}

async function copyWithSkopeo(c: Ctx, skopeoHome: string, host: string, layout: string, src: string, dst: { repo: string; tag: string }, args: string[]): Promise<void> {
  const digestFile = path.join(skopeoHome, `digest-${dst.repo.replace('/', '_')}-${dst.tag}`);
  await skopeo(skopeoHome, ['copy', '--dest-tls-verify=false', '--digestfile', digestFile, ...args, `oci:${layout}:${src}`, `docker://${host}/${dst.repo}:${dst.tag}`]);
  const digest = (await readFile(digestFile, 'utf8')).trim();
  const list = args.includes('--all');
  const mediaType = args.includes('v2s2') ? (list ? DOCKER_LIST : DOCKER_MANIFEST) : list ? OCI_INDEX : OCI_MANIFEST;
  if (!args.includes('v2s2')) {
    const want = await layoutDigest(layout, src);
    if (digest !== want) throw new Error(`skopeo pushed ${digest} for ${src}, the layout has ${want}`);
  }
  c.s.manifests.push({ repo: dst.repo, digest, mediaType, tags: [dst.tag] });
}

/**
 * One fixed push, identical for any registry: OCI manifests and an index by tag and by digest,
 * several tags on one manifest, a Docker schema 2 manifest, chunked and monolithic blobs, a
 * cross-repository mount into the nested `team/app`, skopeo copies of an umoci layout (a manifest
 * without mediaType, v2s2 conversions of a manifest and of a multi-platform index), a sha512 blob,
 * an artifact with a subject, repositories with blobs only or untagged manifests only, and a
 * manifest deleted by digest.
 * `beforeDelete` runs just before that delete.
 */
export async function pushScenario(
  client: OciClient,
  opts: { skopeoHome: string; layout: string; beforeDelete?: () => Promise<void> },
): Promise<Scenario> {
  const s: Scenario = {
    repos: ['alpha', 'blobs/only', 'digest/only', 'team/app'],
    untaggedRepos: ['blobs/only', 'digest/only'],
    referrer: { repo: 'alpha', subject: '', digest: '', artifactType: 'application/vnd.example.sbom+json', size: 0 },
    tags: {},
    manifests: [],
    blobs: [],
    deleted: [],
  };
  const c: Ctx = { client, s };
  const host = new URL(client.baseUrl).host;

  const config1 = await blob(c, 'alpha', imageConfig('amd64', 2));
  const layer1 = await blob(c, 'alpha', fixedBytes('layer1', 300_000), 65536);
  const layer2 = await blob(c, 'alpha', fixedBytes('layer2', 1000));
  const m1 = await manifest(c, 'alpha', OCI_MANIFEST, ociImage(config1, [layer1, layer2]), ['v1', 'latest']);
  const config2 = await blob(c, 'alpha', imageConfig('arm64', 1), 100);
  const m2 = await manifest(c, 'alpha', OCI_MANIFEST, ociImage(config2, [layer1]), []);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, ...m1, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: OCI_MANIFEST, ...m2, platform: { architecture: 'arm64', os: 'linux' } },
    ],
  };
  await manifest(c, 'alpha', OCI_INDEX, index, ['multi']);
  // An index without mediaType: its type comes from the request, and later from its shape.
  await manifest(c, 'alpha', OCI_INDEX, { schemaVersion: 2, manifests: index.manifests.slice(0, 1) }, ['bare-index']);
  // A tag that moves: Distribution keeps the old target under tags/<tag>/index/ as history.
  await client.putManifest('alpha', 'moving', jsonBytes(ociImage(config2, [layer1])), OCI_MANIFEST);
  await client.putManifest('alpha', 'moving', jsonBytes(ociImage(config1, [layer1, layer2])), OCI_MANIFEST);
  s.manifests.find((m) => m.digest === m1.digest)!.tags.push('moving');
  await manifest(c, 'alpha', OCI_MANIFEST, ociImage(config2, [layer2], { purpose: 'untagged' }), []);
  // Distribution 2.8 stores a sha512 blob under its canonical sha256 digest and links sha512 to it.
  await blob(c, 'alpha', fixedBytes('sha512 blob', 5000), undefined, 'sha512');

  const empty = await blob(c, 'alpha', Buffer.from('{}'));
  const artifact = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: s.referrer.artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', ...empty },
    layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', ...empty }],
    subject: { mediaType: OCI_MANIFEST, ...m1 },
    annotations: { 'org.example.kind': 'sbom' },
  };
  const ref = await manifest(c, 'alpha', OCI_MANIFEST, artifact, []);
  s.referrer = { ...s.referrer, subject: m1.digest, ...ref };

  // A repository holding only a mounted blob, and one holding only a manifest pushed by digest.
  if ((await client.mountBlob('blobs/only', layer2.digest, 'alpha')) !== 201) throw new Error('mount into blobs/only');
  s.blobs.push({ repo: 'blobs/only', digest: layer2.digest, bytes: fixedBytes('layer2', 1000) });
  for (const b of [config2, layer1]) {
    if ((await client.mountBlob('digest/only', b.digest, 'alpha')) !== 201) throw new Error('mount into digest/only');
  }
  await manifest(c, 'digest/only', OCI_MANIFEST, ociImage(config2, [layer1]), []);

  const mounted = await client.mountBlob('team/app', layer1.digest, 'alpha');
  if (mounted !== 201) throw new Error(`mount of ${layer1.digest} from alpha into team/app answered ${mounted}`);
  s.blobs.push({ repo: 'team/app', digest: layer1.digest, bytes: fixedBytes('layer1', 300_000) });
  const config3 = await blob(c, 'team/app', jsonBytes({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const docker = {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: { mediaType: DOCKER_CONFIG, ...config3 },
    layers: [{ mediaType: DOCKER_LAYER, ...layer1 }],
  };
  await manifest(c, 'team/app', DOCKER_MANIFEST, docker, ['1.0']);

  await copyWithSkopeo(c, opts.skopeoHome, host, opts.layout, 'amd64', { repo: 'alpha', tag: 'umoci' }, []);
  await copyWithSkopeo(c, opts.skopeoHome, host, opts.layout, 'arm64', { repo: 'team/app', tag: 'v2s2' }, ['--format', 'v2s2']);
  await copyWithSkopeo(c, opts.skopeoHome, host, opts.layout, 'multi', { repo: 'team/app', tag: 'multi' }, ['--all']);
  await copyWithSkopeo(c, opts.skopeoHome, host, opts.layout, 'multi', { repo: 'team/app', tag: 'list' }, ['--all', '--format', 'v2s2']);

  const doomed = await manifest(c, 'team/app', OCI_MANIFEST, ociImage(config3, [], { purpose: 'doomed' }), ['doomed']);
  await opts.beforeDelete?.();
  const del = await client.deleteManifest('team/app', doomed.digest);
  if (del.status !== 202) throw new Error(`DELETE team/app@${doomed.digest} answered ${del.status} ${del.body.toString()}`);
  s.manifests = s.manifests.filter((m) => m.digest !== doomed.digest);
  s.deleted.push({ repo: 'team/app', digest: doomed.digest });

  s.tags = { alpha: ['bare-index', 'latest', 'moving', 'multi', 'umoci', 'v1'], 'team/app': ['1.0', 'list', 'multi', 'v2s2'] };
  return s;
}
