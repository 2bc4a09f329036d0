import type { ImageSize } from './image-size';

/** One tag as `berth ls REPOSITORY` lists it. */
export interface TagRow extends Partial<ImageSize> {
  tag: string;
  /** null when the tag names no manifest (a broken store; `berth check` says more). */
  digest: string | null;
  /** ISO time of the tag's last push, when the source knows it. */
  pushed: string | null;
}

/** Where `berth ls` reads: the configured store (ls-store.ts) or a running registry (ls-registry.ts). */
export interface LsSource {
  /** Every repository, a page at a time, in order. */
  repositories(): AsyncIterable<string[]>;
  /** Every tag of the repository, a page at a time; rejects when the repository is unknown. */
  tags(repository: string): AsyncIterable<string[]>;
  describe(repository: string, tag: string): Promise<TagRow>;
}

/** Names per page: a catalog of thousands of repositories is read in steps, never in one answer. */
export const PAGE_SIZE = 1000;
