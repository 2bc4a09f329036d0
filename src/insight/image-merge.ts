import type { LayerEntry } from './layer-entry';
import { historyOfLayers } from './history-map';
import { LayerTree, type Removal } from './layer-tree';

export interface LayerInput {
  digest: string;
  /** The layer's entries in tar order (a stored file list, or a scan's output). */
  entries: AsyncIterable<LayerEntry>;
}

/** A layer, with the instruction that created it when the config's history says. */
export interface LayerRef {
  index: number;
  digest: string;
  createdBy?: string;
}

export interface HiddenEntry {
  /** The last path the content had before a layer hid it. */
  path: string;
  size: number;
  addedBy: LayerRef;
  hiddenBy: LayerRef;
}

export interface LayerEfficiency extends LayerRef {
  /** Regular-file bytes the layer ships. */
  shippedBytes: number;
  /** Of those, bytes a later layer (or the layer itself, overwriting) made unreachable. */
  hiddenBytes: number;
}

export interface ImageEfficiency {
  shippedBytes: number;
  reachableBytes: number;
  /** shippedBytes - reachableBytes. */
  hiddenBytes: number;
  /** reachable / shipped, as `dive` reports it; 1 for an image that ships no file content. */
  efficiency: number;
  layers: LayerEfficiency[];
  /** The biggest hidden contents, biggest first. */
  hidden: HiddenEntry[];
}

export interface MergeOptions {
  /** The image config's `history`, to name the instruction of each layer. */
  history?: unknown;
  /** How many hidden entries to report (default 20). */
  top?: number;
}

/**
 * Applies an image's layers in order (one entry stream open at a time) and measures what ships but
 * cannot be reached. Memory is proportional to the paths of the image: the merged tree, plus one
 * record per content hidden (to rank them); never to the bytes.
 */
export async function mergeLayers(layers: LayerInput[], options: MergeOptions = {}): Promise<ImageEfficiency> {
  const history = historyOfLayers(options.history, layers.length);
  const refs: LayerRef[] = layers.map(({ digest }, index) => {
    const createdBy = history[index]?.created_by;
    return createdBy === undefined ? { index, digest } : { index, digest, createdBy };
  });
  // Keyed by content: a content hidden twice (a file, then a surviving hard link to it) counts once,
  // at its last removal.
  const removals = new Map<number, Removal>();
  const tree = new LayerTree((content, removal) => removals.set(content, removal));
  const shipped = layers.map(() => 0);
  for (const [index, layer] of layers.entries()) shipped[index] = await applyLayer(tree, layer.entries, index);
  const reachable = tree.reachable();
  const hiddenPerLayer = layers.map(() => 0);
  const hidden: HiddenEntry[] = [];
  for (const [content, removal] of removals) {
    if (reachable.contents.has(content)) continue;
    hiddenPerLayer[removal.contentLayer] += removal.size;
    hidden.push({ path: removal.path, size: removal.size, addedBy: refs[removal.contentLayer], hiddenBy: refs[removal.hiddenBy] });
  }
  hidden.sort((a, b) => b.size - a.size || a.path.localeCompare(b.path));
  const shippedBytes = shipped.reduce((sum, bytes) => sum + bytes, 0);
  return {
    shippedBytes,
    reachableBytes: reachable.bytes,
    hiddenBytes: shippedBytes - reachable.bytes,
    efficiency: shippedBytes === 0 ? 1 : reachable.bytes / shippedBytes,
    layers: refs.map((ref, i) => ({ ...ref, shippedBytes: shipped[i], hiddenBytes: hiddenPerLayer[i] })),
    hidden: hidden.slice(0, options.top ?? 20),
  };
}

/** Applies one layer's entries to the tree, in tar order; resolves to the regular-file bytes it ships. */
export async function applyLayer(tree: LayerTree, entries: AsyncIterable<LayerEntry>, index: number): Promise<number> {
  let shipped = 0;
  for await (const entry of entries) {
    if (entry.type === 'whiteout') tree.whiteout(entry.path, index);
    else if (entry.type === 'opaque') tree.opaque(entry.path, index);
    else tree.add(entry.path, entry.type, entry.size, index, entry.linkTarget);
    if (entry.type === 'file') shipped += entry.size;
  }
  return shipped;
}
