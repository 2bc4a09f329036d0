import { createHash, randomBytes } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export interface Blob {
  data: Buffer;
  digest: string;
  size: number;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Manifest {
  /** The exact bytes to push; the registry must store and return these. */
  bytes: Buffer;
  digest: string;
  mediaType: string;
  descriptor: Descriptor;
}

export function sha256(data: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export function blobOf(data: Buffer): Blob {
  return { data, digest: sha256(data), size: data.length };
}

export function randomBlob(size: number): Blob {
  return blobOf(randomBytes(size));
}

/** A config blob unique to this run, so that tests never see each other's content. */
export function configBlob(): Blob {
  return blobOf(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') })));
}

/** The image-spec's empty descriptor content, `{}`. */
export const emptyBlob: Blob = blobOf(Buffer.from('{}'));

export function descriptorOf(blob: Blob, mediaType: string): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size };
}

function manifestFrom(body: unknown, mediaType: string, space?: number): Manifest {
  const bytes = Buffer.from(JSON.stringify(body, null, space));
  const digest = sha256(bytes);
  return { bytes, digest, mediaType, descriptor: { mediaType, digest, size: bytes.length } };
}

export interface ImageManifestSpec {
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Indentation of the JSON: lets a test check that bytes are stored exactly as sent. */
  space?: number;
}

export function imageManifest(spec: ImageManifestSpec): Manifest {
  const body: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_MANIFEST };
  if (spec.artifactType) body.artifactType = spec.artifactType;
  body.config = spec.config;
  body.layers = spec.layers;
  if (spec.subject) body.subject = spec.subject;
  if (spec.annotations) body.annotations = spec.annotations;
  return manifestFrom(body, OCI_MANIFEST, spec.space);
}

export function imageIndex(manifests: Descriptor[], extra: { subject?: Descriptor; artifactType?: string; annotations?: Record<string, string> } = {}): Manifest {
  const body: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_INDEX };
  if (extra.artifactType) body.artifactType = extra.artifactType;
  body.manifests = manifests;
  if (extra.subject) body.subject = extra.subject;
  if (extra.annotations) body.annotations = extra.annotations;
  return manifestFrom(body, OCI_INDEX);
}

/** A syntactically valid digest of content that was never pushed. */
export function unknownDigest(): string {
  return sha256(randomBytes(32));
}

/** A repository name matching the spec's `<name>` grammar, unique to this run. */
export function uniqueName(prefix: string): string {
  return `conformance/${prefix}-${randomBytes(4).toString('hex')}`;
}
