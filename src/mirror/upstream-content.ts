/**
 * Reading what an upstream says about content, where registries differ: HEAD answers without a
 * digest, manifests served as `application/json`, digests in odd places, referrers split into pages.
 * Pure functions; the client does the requests.
 */
import { parseDigest, type Digest } from '../oci/digest';
import { MEDIA_TYPES } from '../oci/manifest-parse';
import { validateTag } from '../oci/names';
import { UpstreamError } from './upstream-errors';

/** Every manifest type the mirror serves: an upstream picks among these (Distribution hides OCI types from clients that do not list them). */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerList].join(', ');

/** Content-Types some upstreams send for manifests instead of the manifest's own type. */
const GENERIC_TYPES = new Set(['application/json', 'application/octet-stream', 'text/plain']);

export interface ReferrersIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Array<Record<string, unknown> & { digest: string; mediaType: string; size: number; artifactType?: string }>;
}

export type ReferrersResult = { supported: true; index: ReferrersIndex; filtered: boolean } | { supported: false };

/** The media type of a Content-Type, undefined when absent or generic. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0].trim().toLowerCase();
  return t && !GENERIC_TYPES.has(t) ? t : undefined;
}

/** Content-Type, or the manifest's own `mediaType` when the upstream sends a generic type or none. */
export function manifestMediaType(contentType: string | undefined, bytes: Buffer, where: string): string {
  const header = mediaTypeOf(contentType);
  if (header !== undefined) return header;
  try {
    const field = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof field === 'string' && field) return field;
  } catch {
    // not JSON: no media type to be found
  }
  throw new UpstreamError('bad-response', `${where}: manifest without a media type`);
}

/** A digest the upstream announced, or undefined when it sent none or garbage. */
export function announcedDigest(value: string | string[] | undefined): Digest | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return parseDigest(value.trim());
  } catch {
    return undefined;
  }
}

/** Validates a tag or digest reference (as the routes do), answering the digest when it is one. */
export function parseReference(reference: string): Digest | undefined {
  if (reference.includes(':')) return parseDigest(reference);
  validateTag(reference);
  return undefined;
}

/** The `rel="next"` target of a Link header (distribution-spec pagination). */
export function nextLink(value: string | string[] | undefined, base: URL): URL | undefined {
  const m = [value ?? []].flat().join(', ').match(/<([^>]+)>\s*;\s*rel="?next"?/i);
  return m ? new URL(m[1], base) : undefined;
}

/** A referrers page, checked to be an image index of descriptors. */
export function parseReferrersIndex(bytes: Buffer, where: string): ReferrersIndex {
  let index: ReferrersIndex;
  try {
    index = JSON.parse(bytes.toString('utf8')) as ReferrersIndex;
  } catch {
    throw new UpstreamError('bad-response', `${where}: referrers are not JSON`);
  }
  const ok =
    index !== null &&
    typeof index === 'object' &&
    Array.isArray(index.manifests) &&
    index.manifests.every((m) => m !== null && typeof m === 'object' && typeof m.digest === 'string' && typeof m.mediaType === 'string' && typeof m.size === 'number');
  if (!ok) throw new UpstreamError('bad-response', `${where}: referrers are not an image index`);
  return index;
}
