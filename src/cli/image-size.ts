interface DescriptorJson {
  digest?: unknown;
  size?: unknown;
}

interface ManifestJson {
  mediaType?: unknown;
  config?: DescriptorJson;
  layers?: DescriptorJson[];
  manifests?: DescriptorJson[];
}

/** What `berth ls` shows of a tag's manifest. */
export interface ImageSize {
  mediaType: string;
  /**
   * Bytes a pull moves: the manifest, its config and its layers. For an index: the index, and every
   * child manifest the registry holds with its config and layers, each blob counted once (a pull
   * of every platform).
   */
  size: number;
  /** For an index: how many manifests it lists. */
  manifests?: number;
  /** For an index: children it lists that the registry does not hold (their bytes are not counted). */
  missing?: number;
}

/** A child manifest's bytes by digest; null when it is not there. */
export type ChildReader = (digest: string) => Promise<Buffer | null>;

function parse(bytes: Buffer): ManifestJson {
  const value: unknown = JSON.parse(bytes.toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('a manifest must be a JSON object');
  return value;
}

function blobs(m: ManifestJson): DescriptorJson[] {
  return [...(m.config ? [m.config] : []), ...(Array.isArray(m.layers) ? m.layers : [])];
}

const sizeOf = (d: DescriptorJson) => (typeof d.size === 'number' && d.size >= 0 ? d.size : 0);

/** The size of a manifest and what it references, from the descriptors (no blob is read). */
export async function imageSize(bytes: Buffer, readChild: ChildReader): Promise<ImageSize> {
  const top = parse(bytes);
  const mediaType = typeof top.mediaType === 'string' ? top.mediaType : 'application/vnd.oci.image.manifest.v1+json';
  const counted = new Set<string>();
  let size = bytes.length;
  const add = (m: ManifestJson) => {
    for (const d of blobs(m)) {
      const key = typeof d.digest === 'string' ? d.digest : '';
      if (key !== '' && counted.has(key)) continue;
      counted.add(key);
      size += sizeOf(d);
    }
  };
  if (!Array.isArray(top.manifests)) {
    add(top);
    return { mediaType, size };
  }
  let missing = 0;
  for (const child of top.manifests) {
    const childBytes = typeof child.digest === 'string' ? await readChild(child.digest) : null;
    if (childBytes === null) {
      missing++;
      continue;
    }
    size += childBytes.length;
    // A nested index is rare (attestations point at images): its own children are not followed.
    add(parse(childBytes));
  }
  return { mediaType, size, manifests: top.manifests.length, ...(missing > 0 && { missing }) };
}
