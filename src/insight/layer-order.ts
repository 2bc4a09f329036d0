/** One layer of an image, as the comparison of two pushes reads it. */
export interface OrderLayer {
  digest: string;
  /** Bytes of the blob as stored: what a push uploads and a pull downloads. */
  size: number;
  /**
   * The identity of the layer's files (paths, types, sizes, modes, owners, link targets and content
   * digests, no times): equal for a layer rebuilt with the same files. Undefined: not analysed.
   */
  contentDigest?: string;
  createdBy?: string;
}

export type LayerChangeKind =
  /** The same blob as in the previous push: nothing moved. */
  | 'reused'
  /** A new blob with the same files as a layer of the previous push: only times (or compression) differ. */
  | 'rebuilt-identical'
  /** New content. */
  | 'changed';

export interface LayerChange {
  index: number;
  digest: string;
  size: number;
  kind: LayerChangeKind;
  createdBy?: string;
}

export interface OrderAdvice {
  /** The layer rebuilt for nothing, and the instruction that made it. */
  move: { index: number; createdBy?: string };
  /** The lowest layer below it whose content changed: the instruction to move it below. */
  below: { index: number; createdBy?: string };
  /** What moving it would save: its blob is uploaded by every such push and downloaded by every pull of it. */
  bytesPerPush: number;
  bytesPerPull: number;
}

export interface PushComparison {
  layers: LayerChange[];
  reusedBytes: number;
  /** Bytes of layers with new content: what the push had to move. */
  changedBytes: number;
  /** Bytes of layers rebuilt with identical files: moved for nothing. */
  rebuiltBytes: number;
  advice: OrderAdvice[];
}

/**
 * What a push of a tag moved compared with the tag's previous image, and what layer order would
 * have spared. A builder rebuilds every layer above the first one whose input changed; a layer
 * rebuilt with the same files (a dependency install above a COPY of the source) still gets new
 * times, so a new blob that every push uploads and every pull downloads. Such a layer should come
 * before the lowest layer that changed: then it stays cached (and reused) while that one changes.
 * Layers not analysed (no contentDigest) count as changed and get no advice.
 */
export function comparePushes(previous: readonly OrderLayer[], current: readonly OrderLayer[]): PushComparison {
  const previousDigests = new Set(previous.map((l) => l.digest));
  const previousContents = new Set(previous.flatMap((l) => (l.contentDigest === undefined ? [] : [l.contentDigest])));
  const layers: LayerChange[] = current.map((layer, index) => {
    const kind: LayerChangeKind = previousDigests.has(layer.digest)
      ? 'reused'
      : layer.contentDigest !== undefined && previousContents.has(layer.contentDigest)
        ? 'rebuilt-identical'
        : 'changed';
    return { index, digest: layer.digest, size: layer.size, kind, ...(layer.createdBy === undefined ? {} : { createdBy: layer.createdBy }) };
  });
  const sum = (kind: LayerChangeKind) => layers.filter((l) => l.kind === kind).reduce((n, l) => n + l.size, 0);
  const firstChanged = layers.find((l) => l.kind === 'changed');
  const advice: OrderAdvice[] = [];
  if (firstChanged !== undefined)
    for (const layer of layers)
      if (layer.kind === 'rebuilt-identical' && layer.index > firstChanged.index)
        advice.push({
          move: { index: layer.index, createdBy: layer.createdBy },
          below: { index: firstChanged.index, createdBy: firstChanged.createdBy },
          bytesPerPush: layer.size,
          bytesPerPull: layer.size,
        });
  return { layers, reusedBytes: sum('reused'), changedBytes: sum('changed'), rebuiltBytes: sum('rebuilt-identical'), advice };
}
