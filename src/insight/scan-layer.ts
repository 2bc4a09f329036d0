import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { ByteCounter } from './byte-counter';
import { normaliseEntryPath, whiteoutOf } from './entry-path';
import { FileHead } from './file-head';
import { InsightError } from './insight-error';
import type { EntryType, LayerEntry } from './layer-entry';
import { decompressorFor } from './layer-media-types';
import type { SecretFinding } from './secret-finding';
import { DEFAULT_SECRET_HEAD_BYTES, LayerSecretScanner } from './secret-scan';

export interface LayerScanOptions {
  /** The layer descriptor's media type: decides the decompression. */
  mediaType: string;
  /** Every entry in tar order; the scan waits for a returned promise (backpressure). */
  onEntry(entry: LayerEntry): void | Promise<void>;
  /** Every secret found, as soon as its file has been read. */
  onFinding?(finding: SecretFinding): void | Promise<void>;
  /** Bytes of each text file searched for secrets; 0 turns the search off. */
  secretHeadBytes?: number;
}

export interface LayerSummary {
  /** Bytes of the blob as stored. */
  compressedSize: number;
  /** Bytes of the tar archive. */
  uncompressedSize: number;
  /** Regular files and hard links. */
  fileCount: number;
  /** Every entry reported, directories and whiteouts included. */
  entryCount: number;
  findingCount: number;
}

const TAR_TYPES: Partial<Record<string, EntryType>> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/**
 * Reads one layer blob once, as a stream: sizes, every entry (to `onEntry`, never kept), a content
 * digest per regular file, and secrets in each file's first bytes. Memory is bounded by the tar
 * parser's buffers, one file's head and the layer's `.git` directory names, whatever the layer's
 * size or file count. Unreadable bytes reject with `layer-corrupt`; a callback's own error rejects
 * as it is.
 */
export async function scanLayer(blob: Readable, options: LayerScanOptions): Promise<LayerSummary> {
  const decompress = decompressorFor(options.mediaType);
  const headLimit = options.secretHeadBytes ?? DEFAULT_SECRET_HEAD_BYTES;
  const compressed = new ByteCounter();
  const uncompressed = decompress === undefined ? compressed : new ByteCounter();
  // Old layers may be pre-POSIX (v7) tars, without the ustar magic: the header checksum, which
  // tar-stream checks first, still refuses bytes that are not a tar.
  const extract = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  const stages = decompress === undefined ? [blob, compressed, extract] : [blob, compressed, decompress, uncompressed, extract];
  const piped = pipeline(stages);
  piped.catch(() => {}); // observed below, after the entries or once one of them failed
  const secrets = new LayerSecretScanner();
  const summary = { fileCount: 0, entryCount: 0, findingCount: 0 };
  let callbackError: { error: unknown } | undefined;
  const call = async (run: () => void | Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      callbackError = { error };
      throw error;
    }
  };
  try {
    for await (const item of extract) {
      const type = TAR_TYPES[item.header.type ?? ''];
      const path = normaliseEntryPath(item.header.name);
      const isFile = type === 'file';
      const hash = isFile ? createHash('sha256') : undefined;
      const head = isFile && headLimit > 0 ? new FileHead(headLimit) : undefined;
      let size = 0;
      for await (const chunk of item as AsyncIterable<Buffer>) {
        size += chunk.length;
        hash?.update(chunk);
        head?.add(chunk);
      }
      const entry = type === undefined ? undefined : toEntry(item.header, type, path, size, hash?.digest('hex'));
      if (entry === undefined) continue;
      summary.entryCount++;
      if (entry.type === 'file' || entry.type === 'hardlink') summary.fileCount++;
      await call(() => options.onEntry(entry));
      for (const finding of secrets.entry(entry.path, entry.type, head?.bytes())) {
        summary.findingCount++;
        if (options.onFinding) await call(() => options.onFinding!(finding));
      }
    }
    await piped;
  } catch (err) {
    // Leaving the loop early destroyed the extractor, and with it every stage of the pipeline.
    if (callbackError !== undefined) throw callbackError.error;
    if (err instanceof InsightError) throw err;
    throw new InsightError('layer-corrupt', `layer unreadable: ${(err as Error).message}`, { cause: err });
  }
  return { compressedSize: compressed.bytes, uncompressedSize: uncompressed.bytes, ...summary };
}

function toEntry(header: tar.Header, type: EntryType, path: string, size: number, hex: string | undefined): LayerEntry | undefined {
  const base = { mode: (header.mode ?? 0) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0 };
  const whiteout = type === 'file' ? whiteoutOf(path) : undefined;
  if (whiteout === 'reserved') return undefined;
  if (whiteout?.kind === 'whiteout') return { path: whiteout.hides, type: 'whiteout', size: 0, ...base };
  if (whiteout?.kind === 'opaque') return { path: whiteout.dir, type: 'opaque', size: 0, ...base };
  const entry: LayerEntry = { path, type, size: type === 'file' ? size : 0, ...base };
  if (hex !== undefined) entry.digest = `sha256:${hex}`;
  if (type === 'symlink') entry.linkTarget = header.linkname ?? '';
  if (type === 'hardlink') entry.linkTarget = normaliseEntryPath(header.linkname ?? '');
  return entry;
}
