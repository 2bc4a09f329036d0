/** A descriptor as Distribution's `target.references` lists it, in its field order. */
export interface ReferenceDescriptor {
  mediaType?: string;
  size?: number;
  digest?: string;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: unknown;
}

type Json = Record<string, unknown>;

/**
 * What `notifications.events.includereferences` adds to a manifest event, as Distribution 2.8's
 * Manifest.References(): an image manifest's config then its layers, an index's manifests (without
 * their platform, which Distribution's manifest list keeps apart from the descriptor). Nothing for
 * content that is neither.
 */
export function manifestReferences(bytes: Buffer): ReferenceDescriptor[] | undefined {
  let m: Json;
  try {
    m = JSON.parse(bytes.toString('utf8')) as Json;
  } catch {
    return undefined;
  }
  if (Array.isArray(m.manifests)) return m.manifests.map((d) => reference(d as Json, false));
  if (m.config && typeof m.config === 'object') {
    const layers = Array.isArray(m.layers) ? (m.layers as Json[]) : [];
    return [m.config as Json, ...layers].map((d) => reference(d, true));
  }
  return undefined;
}

/** Go's omitempty: no empty string, zero, empty list or map. */
function reference(d: Json, withPlatform: boolean): ReferenceDescriptor {
  const out: Json = {};
  for (const key of ['mediaType', 'size', 'digest', 'urls', 'annotations', ...(withPlatform ? ['platform'] : [])]) {
    const v = d[key];
    if (v === undefined || v === null || v === '' || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[key] = v;
  }
  return out;
}
