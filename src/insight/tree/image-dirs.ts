import { applyLayer } from '../image-merge';
import type { LayerEntry } from '../layer-entry';
import { LayerTree } from '../layer-tree';
import { DirIndex } from './dir-index';

/**
 * The directory tree of an image's final filesystem: its layers applied in order with whiteouts
 * and opaque directories, by the very merge the report's figures come from (LayerTree). Each path
 * says which layer put it there; modes and owners are not kept by the merge, so not listed.
 * Streams one layer's list at a time.
 */
export async function imageDirIndex(layers: Array<AsyncIterable<LayerEntry>>): Promise<DirIndex> {
  const tree = new LayerTree(() => undefined);
  for (const [index, entries] of layers.entries()) await applyLayer(tree, entries, index);
  return DirIndex.freeze(tree.top, false);
}
