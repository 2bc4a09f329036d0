import { parseDigest, type Digest } from '../../oci/digest';
import { MEDIA_TYPES } from '../../oci/manifest-parse';

/** A descriptor as an image manifest or an index names it, as far as the report reads it. */
export interface ReportDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  /** Present on foreign layers, which a registry is not expected to store. */
  urls?: string[];
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  architecture?: string;
  os?: string;
  variant?: string;
  'os.version'?: string;
}

export type ManifestShape =
  | { kind: 'image'; config: ReportDescriptor; layers: ReportDescriptor[] }
  | { kind: 'index'; manifests: ReportDescriptor[] }
  /** An artifact or anything else without layers Berth can report on. */
  | { kind: 'other' };

const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);

export function isImageMediaType(mediaType: string): boolean {
  return IMAGE_TYPES.has(mediaType);
}

/**
 * What a stored manifest says about the image: its config and layers, or an index's children. The
 * bytes were validated when pushed (manifest-parse.ts), so only what the report needs is re-read;
 * anything that still does not fit is `other` rather than an error.
 */
export function manifestShape(mediaType: string, bytes: Buffer): ManifestShape {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { kind: 'other' };
  }
  if (INDEX_TYPES.has(mediaType) && Array.isArray(doc.manifests)) {
    const manifests = doc.manifests.map(descriptorOf);
    return manifests.every((d) => d !== undefined) ? { kind: 'index', manifests } : { kind: 'other' };
  }
  // An artifact manifest with an image media type (a signature, an SBOM) has a config of its own type.
  if (!IMAGE_TYPES.has(mediaType) || !Array.isArray(doc.layers)) return { kind: 'other' };
  const config = descriptorOf(doc.config);
  const layers = doc.layers.map(descriptorOf);
  if (config === undefined || !layers.every((d) => d !== undefined)) return { kind: 'other' };
  return { kind: 'image', config, layers };
}

function descriptorOf(value: unknown): ReportDescriptor | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.mediaType !== 'string' || typeof v.digest !== 'string' || typeof v.size !== 'number') return undefined;
  let digest: Digest;
  try {
    digest = parseDigest(v.digest);
  } catch {
    return undefined;
  }
  const d: ReportDescriptor = { mediaType: v.mediaType, digest, size: v.size };
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === 'string');
  if (typeof v.platform === 'object' && v.platform !== null) d.platform = v.platform;
  if (typeof v.annotations === 'object' && v.annotations !== null) d.annotations = v.annotations as Record<string, string>;
  return d;
}

// Layers a registry is not expected to hold (Windows base layers): never pushed, never analysed.
const FOREIGN = /(foreign|nondistributable)/;

/** A layer the registry need not store (manifest-parse.ts does not require it): looked for before it is queued. */
export function isForeignLayer(d: ReportDescriptor): boolean {
  return FOREIGN.test(d.mediaType);
}
