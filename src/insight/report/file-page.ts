import type { LayerEntry } from '../layer-entry';

/** Where a page starts: after the entry at position `at - 1`, whose path is `last`. */
export interface PageCursor {
  /** The path of the previous page's last entry. */
  last?: string;
  /** Its position + 1: paths may repeat in a layer's tar, so the path alone may be ambiguous. */
  at?: number;
}

export interface FilePage {
  entries: LayerEntry[];
  /** The cursor of the next page; absent on the last one. */
  next?: { last: string; at: number };
  /** `at` was given and the entry before it is not `last`: the cursor is not one this list made. */
  mismatch?: true;
}

/**
 * One page of a stored file list, in tar order (the order the layer applies in). Each page reads the
 * list from its start up to the page's end: memory is the page, whatever the list's length. With
 * `at`, the page starts there (the path at `at - 1` must be `last`); with `last` alone, after the
 * first entry with that path; a `last` not in the list gives an empty last page, as a tag list does.
 */
export async function filePage(list: AsyncIterable<LayerEntry>, n: number, cursor: PageCursor): Promise<FilePage> {
  const entries: LayerEntry[] = [];
  let position = 0;
  // Position 0 is before the first entry: no previous entry, so no path to match.
  if (cursor.at === 0 && cursor.last !== undefined) return { entries, mismatch: true };
  let started = cursor.at === 0 || (cursor.last === undefined && cursor.at === undefined);
  let startsAt = 0;
  for await (const entry of list) {
    position++;
    if (!started) {
      if (cursor.at !== undefined) {
        if (position < cursor.at) continue;
        if (cursor.last !== undefined && entry.path !== cursor.last) return { entries, mismatch: true };
      } else if (entry.path !== cursor.last) continue;
      started = true;
      startsAt = position;
      continue;
    }
    if (entries.length === n) {
      const last = entries[entries.length - 1];
      return last === undefined ? { entries } : { entries, next: { last: last.path, at: startsAt + n } };
    }
    entries.push(entry);
  }
  return { entries };
}
