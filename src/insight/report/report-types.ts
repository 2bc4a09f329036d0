import type { InsightErrorKind } from '../insight-error';
import type { HiddenEntry } from '../image-merge';
import type { ImageSecretFinding } from '../image-secrets';
import type { SecretMode } from '../../config/insight-schema';
import type { Platform } from './image-manifest';
import type { PushComparison } from '../layer-order';

/** What became of one layer: a record's outcome, or `not-stored` for a foreign layer the registry lacks. */
export type LayerOutcome = 'analysed' | 'not-a-layer' | 'failed' | 'not-stored';

export interface LayerReport {
  index: number;
  digest: string;
  mediaType: string;
  /** The descriptor's size: the bytes a pull downloads. */
  compressedSize: number;
  outcome: LayerOutcome;
  uncompressedSize?: number;
  files?: number;
  entries?: number;
  /** The history entry's instruction (entries with `empty_layer` skipped). */
  createdBy?: string;
  /** Regular-file bytes it ships, and of those the bytes later layers (or itself) made unreachable. */
  shippedBytes: number;
  hiddenBytes: number;
  /** Why a `failed` layer could not be read. */
  error?: { kind: InsightErrorKind; message: string };
  /** The layer had more findings than its record keeps. */
  findingsTruncated?: true;
  /** The identity of its files, times excluded (the record's): tells a layer rebuilt with the same files. */
  contentDigest?: string;
}

/**
 * An image's analysis with nothing repository-specific in it: what the cache holds, keyed by the
 * manifest's digest (any repository holding the manifest gets the same). `findings` are every
 * finding, before any repository's allow-list: the policy is applied at each ask, since it may change.
 */
export interface ImageAnalysis {
  version: 1;
  manifest: string;
  config: { digest: string; size: number; error?: string };
  totals: { layers: number; compressedBytes: number; uncompressedBytes: number; files: number };
  /** reachable / shipped, as dive reports it; 1 for an image shipping no file content. */
  efficiency: number;
  shippedBytes: number;
  reachableBytes: number;
  /** Shipped but unreachable in the final filesystem. */
  wastedBytes: number;
  layers: LayerReport[];
  /** The biggest contents shipped and hidden, biggest first. */
  offenders: HiddenEntry[];
  /** Layers the merge left out (failed, not a layer, not stored): the figures are without them. */
  skippedLayers: number[];
  notes: string[];
  findings: ImageSecretFinding[];
  analysedAt: string;
}

interface ReportHead {
  repository: string;
  /** As asked: a tag or a digest. */
  reference: string;
  digest: string;
  mediaType: string;
}

/** Some layers have no record yet: they are queued; ask again (202, Retry-After). */
export interface PendingImageReport extends ReportHead {
  status: 'pending';
  pending: Array<{ index: number; digest: string }>;
  layers: number;
}

export interface CompleteImageReport extends ReportHead, Omit<ImageAnalysis, 'version' | 'manifest' | 'findings'> {
  status: 'complete';
  secrets: { mode: SecretMode; findings: ImageSecretFinding[] };
  /** Asked by tag: what this push of the tag moved against the tag's previous image, and layer-order advice. */
  push?: PushReport;
}

/** `previous`: the manifest the tag named before; its comparison once that image is analysed too. */
export type PushReport = { previous: string; status: 'pending' } | ({ previous: string; status: 'complete' } & PushComparison);

export type ImageReport = PendingImageReport | CompleteImageReport;

/** One child of an index: its report inline when it is an image of this repository. */
export interface ChildReport {
  digest: string;
  mediaType: string;
  platform?: Platform;
  /** The child's own report URL path. */
  href: string;
  status: 'complete' | 'pending' | 'not-an-image' | 'missing';
  report?: ImageReport;
}

export interface IndexReport extends ReportHead {
  /** pending while any image child is. */
  status: 'complete' | 'pending';
  manifests: ChildReport[];
}

/** A manifest that is neither an image nor an index (an artifact): nothing to report. */
export interface OtherReport extends ReportHead {
  status: 'not-an-image';
}

export type ManifestReport = ImageReport | IndexReport | OtherReport;
