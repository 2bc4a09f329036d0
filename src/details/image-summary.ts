import { LRUCache } from 'lru-cache';
import type { BlobStore } from '../oci/blobs';
import type { Digest } from '../oci/digest';
import { DomainError } from '../oci/errors';
import type { ManifestStore } from '../oci/manifests';
import { readImageConfig } from '../insight/report/image-config';
import { manifestShape, type Platform, type ReportDescriptor } from '../insight/report/image-manifest';

/** What the tags list says of a manifest: its bytes (each blob once) and the platforms it runs on. */
export interface ImageSummary {
  /** Manifest, config and layers; for an index the union over its children. Null when a part is missing. */
  size: number | null;
  /** `os/arch[/variant]`, in the order the index lists them. */
  platforms: string[];
}

const CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
/** Summaries kept, by repository and digest: content-addressed, so only a missing part can change one. */
const CACHE_SIZE = 20_000;
/** An index of indexes is followed this deep, no deeper. */
const MAX_DEPTH = 2;

export function platformName(p: Platform | undefined): string | undefined {
  if (!p || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  // buildx's attestation manifests: not a platform anything runs on.
  if (p.os === 'unknown' || p.architecture === 'unknown') return undefined;
  return [p.os, p.architecture, ...(typeof p.variant === 'string' && p.variant ? [p.variant] : [])].join('/');
}

function isUnknown(err: unknown): boolean {
  return err instanceof DomainError && (err.kind === 'blob-unknown' || err.kind === 'manifest-unknown');
}

interface Parts {
  /** digest → size, each blob and manifest once. */
  blobs: Map<string, number>;
  platforms: string[];
  complete: boolean;
}

/**
 * Summaries of a repository's manifests, read as a pull would read them (through the repository's
 * links) and never buffering a layer: configs are read under insight's bound (MAX_CONFIG_BYTES).
 */
export class ImageSummaries {
  private readonly cache = new LRUCache<string, ImageSummary>({ max: CACHE_SIZE });

  constructor(
    private readonly manifests: ManifestStore,
    private readonly blobs: BlobStore,
  ) {}

  async summary(name: string, digest: Digest, mediaType: string, bytes: Buffer, signal?: AbortSignal): Promise<ImageSummary> {
    const key = `${name}@${digest.value}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const parts: Parts = { blobs: new Map(), platforms: [], complete: true };
    await this.add(parts, name, digest, mediaType, bytes, 0, signal);
    let size = 0;
    for (const n of parts.blobs.values()) size += n;
    const summary = { size: parts.complete ? size : null, platforms: [...new Set(parts.platforms)] };
    // A missing part may arrive (a mirror fetches it): only what is complete is kept.
    if (parts.complete) this.cache.set(key, summary);
    return summary;
  }

  private async add(parts: Parts, name: string, digest: Digest, mediaType: string, bytes: Buffer, depth: number, signal?: AbortSignal): Promise<void> {
    parts.blobs.set(digest.value, bytes.length);
    const shape = manifestShape(mediaType, bytes);
    if (shape.kind === 'image') {
      parts.blobs.set(shape.config.digest.value, shape.config.size);
      for (const l of shape.layers) parts.blobs.set(l.digest.value, l.size);
      const platform = await this.configPlatform(name, shape.config, signal).catch((err: unknown) => {
        if (!isUnknown(err)) throw err;
        parts.complete = false;
        return undefined;
      });
      if (platform) parts.platforms.push(platform);
    } else if (shape.kind === 'index') {
      if (depth >= MAX_DEPTH) {
        parts.complete = false;
        return;
      }
      for (const child of shape.manifests) await this.addChild(parts, name, child, depth, signal);
    }
  }

  private async addChild(parts: Parts, name: string, child: ReportDescriptor, depth: number, signal?: AbortSignal): Promise<void> {
    const own = platformName(child.platform);
    const attestation = child.platform?.os === 'unknown';
    let m;
    try {
      m = await this.manifests.get(name, { digest: child.digest });
    } catch (err) {
      if (!isUnknown(err)) throw err;
      parts.complete = false;
      if (own) parts.platforms.push(own);
      return;
    }
    const before = parts.platforms.length;
    await this.add(parts, name, child.digest, m.mediaType, m.bytes, depth + 1, signal);
    // The index's descriptor names the platform when it says one; an attestation has none.
    if (own || attestation) parts.platforms.length = before;
    if (own) parts.platforms.push(own);
  }

  private async configPlatform(name: string, config: ReportDescriptor, signal?: AbortSignal): Promise<string | undefined> {
    if (!CONFIG_TYPES.has(config.mediaType)) {
      // An artifact's config (a signature, an SBOM): its presence is what a pull would need.
      await this.blobs.stat(name, config.digest);
      return undefined;
    }
    const read = await readImageConfig(this.blobs, name, config.digest, signal);
    if (read.config === null) return undefined;
    return platformName(read.config as Platform);
  }
}
