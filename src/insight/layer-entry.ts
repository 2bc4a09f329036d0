/** What a layer's tar says about one path, as the scanner reports it and the file list stores it. */
export type EntryType =
  | 'file'
  | 'dir'
  | 'symlink'
  | 'hardlink'
  | 'char'
  | 'block'
  | 'fifo'
  /** `.wh.<name>`: `path` is the hidden path, not the marker's own name. */
  | 'whiteout'
  /** `.wh..wh..opq`: `path` is the directory whose lower-layer contents are hidden. */
  | 'opaque';

export interface LayerEntry {
  /** Normalised as entry-path.ts says: relative, no `./`, no trailing slash; `.` for the root. */
  path: string;
  type: EntryType;
  /** Content bytes of a regular file; 0 for every other type (a hard link ships no content). */
  size: number;
  /** Permission and special bits (the tar header's mode, without the file-type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** A symlink's target as stored; a hard link's target normalised like `path`. */
  linkTarget?: string;
  /** `sha256:<hex>` of a regular file's content. */
  digest?: string;
}
