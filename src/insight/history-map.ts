/** An image config's `history` entry (image-spec config.md), as far as insight reads it. */
export interface HistoryEntry {
  created_by?: string;
  empty_layer?: boolean;
}

/**
 * The history entry of each layer, in layer order: entries marked `empty_layer` (ENV, LABEL, CMD…)
 * made no layer and are skipped. A history shorter than the layers (or none) leaves the rest
 * undefined rather than pairing a layer with the wrong instruction.
 */
export function historyOfLayers(history: unknown, layerCount: number): (HistoryEntry | undefined)[] {
  const layered = Array.isArray(history)
    ? (history as unknown[]).filter(
        (entry): entry is HistoryEntry => typeof entry === 'object' && entry !== null && (entry as HistoryEntry).empty_layer !== true,
      )
    : [];
  return Array.from({ length: layerCount }, (_, i) => layered[i]);
}
