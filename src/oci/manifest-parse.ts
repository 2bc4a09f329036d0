import { DomainError } from './errors';
import { parseDigest, type Digest } from './digest';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const DOCKER_TYPES = new Set<string>([MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerList]);
// Layers a registry is not expected to hold (Windows base layers and the like).
const FOREIGN_LAYER = /(foreign|nondistributable)/;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
}

export interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  subject?: Descriptor;
  artifactType?: string;
  configMediaType?: string;
  annotations?: Record<string, string>;
  /** Blobs that must be linked in the repository (config and distributable layers). */
  blobs: Digest[];
  /** Child manifests that must exist in the repository. */
  manifests: Digest[];
  /** An image's config (absent for an index). */
  config?: Digest;
  /** An image's layers in order, foreign ones included (empty for an index). */
  layers: Digest[];
}

export interface ManifestLimits {
  /** Most `layers` plus `manifests` entries accepted (validation.manifests.maxdescriptors); none when absent. */
  maxDescriptors?: number;
}

/** Strips parameters (`; charset=utf-8`) and case from a Content-Type. */
export function baseMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const base = contentType.split(';')[0].trim().toLowerCase();
  return base || undefined;
}

export function isManifestMediaType(type: string | undefined): boolean {
  return type !== undefined && (INDEX_TYPES.has(type) || MANIFEST_TYPES.has(type));
}

function invalid(message: string, facts: Record<string, unknown> = {}): DomainError {
  return new DomainError('manifest-invalid', facts, `manifest invalid: ${message}`);
}

function descriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where} must be a descriptor object`);
  const v = value as Record<string, unknown>;
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw invalid(`${where}.mediaType must be a string`);
  if (typeof v.digest !== 'string') throw invalid(`${where}.digest must be a string`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  let digest: Digest;
  try {
    digest = parseDigest(v.digest);
  } catch {
    throw invalid(`${where}.digest is not a valid digest`, { digest: v.digest.slice(0, 200) });
  }
  const urls = Array.isArray(v.urls) ? v.urls.filter((u): u is string => typeof u === 'string') : undefined;
  return { mediaType: v.mediaType, digest, size: v.size, urls };
}

function annotations(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('annotations must be an object');
  for (const v of Object.values(value)) if (typeof v !== 'string') throw invalid('annotation values must be strings');
  return value as Record<string, string>;
}

/**
 * Validates a manifest's structure and finds what it references. The media type comes from the
 * manifest's own `mediaType` field, else from the request's Content-Type (umoci omits the field),
 * else from its shape.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, limits: ManifestLimits = {}): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const m = doc as Record<string, unknown>;
  if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const requested = baseMediaType(contentType);
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid('mediaType must be a string');
  const declared = m.mediaType;
  if (declared !== undefined && isManifestMediaType(requested) && requested !== declared)
    throw invalid(`mediaType ${declared} does not match Content-Type ${requested}`);
  const mediaType = declared ?? (isManifestMediaType(requested) ? requested! : Array.isArray(m.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (!isManifestMediaType(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);
  if (DOCKER_TYPES.has(mediaType) && declared === undefined) throw invalid('Docker manifests must declare their mediaType');
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid('artifactType must be a string');

  const parsed: ParsedManifest = {
    mediaType,
    isIndex: INDEX_TYPES.has(mediaType),
    artifactType: m.artifactType,
    annotations: annotations(m.annotations),
    subject: m.subject === undefined ? undefined : descriptor(m.subject, 'subject'),
    blobs: [],
    manifests: [],
    layers: [],
  };
  // Counted before any descriptor is parsed: a manifest over the limit costs no more than its JSON.
  const count = (Array.isArray(m.layers) ? m.layers.length : 0) + (Array.isArray(m.manifests) ? m.manifests.length : 0);
  if (limits.maxDescriptors !== undefined && count > limits.maxDescriptors)
    throw invalid(`${count} descriptors in layers and manifests, more than validation.manifests.maxdescriptors (${limits.maxDescriptors})`, {
      descriptors: count,
      limit: limits.maxDescriptors,
    });
  if (parsed.isIndex) {
    if (!Array.isArray(m.manifests)) throw invalid('an index needs a manifests array');
    parsed.manifests = m.manifests.map((d, i) => descriptor(d, `manifests[${i}]`).digest);
  } else {
    if (m.manifests !== undefined) throw invalid(`${mediaType} cannot have manifests`);
    const config = descriptor(m.config, 'config');
    if (!Array.isArray(m.layers)) throw invalid('layers must be an array');
    const layers = m.layers.map((d, i) => descriptor(d, `layers[${i}]`));
    parsed.configMediaType = config.mediaType;
    parsed.config = config.digest;
    parsed.layers = layers.map((d) => d.digest);
    parsed.blobs = [config, ...layers].filter((d) => !FOREIGN_LAYER.test(d.mediaType)).map((d) => d.digest);
  }
  return parsed;
}

/** The media type of stored bytes (already validated when pushed). */
export function storedMediaType(bytes: Uint8Array): string {
  try {
    const m = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Record<string, unknown>;
    if (typeof m.mediaType === 'string' && m.mediaType) return m.mediaType;
    return Array.isArray(m.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
  } catch {
    return MEDIA_TYPES.ociManifest;
  }
}
