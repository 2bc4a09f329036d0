import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import { InsightError } from './insight-error';
import type { EntryType, LayerEntry } from './layer-entry';

/*
 * The stored file list of a layer: gzipped NDJSON, a header line then one JSON array per entry,
 * [path, type, size, mode, uid, gid, linkTarget|0, sha256 hex|0]. Arrays rather than objects keep
 * the keys out of every line (gzip would mostly remove them, but the decoder would still parse
 * them); JSON keeps any byte of a path (newlines included) safe and the list readable with
 * `zcat | head`. Both directions stream: memory is one line, whatever the number of entries.
 */

const HEADER = '{"berth-file-list":1}';

const TYPE_CODE: Record<EntryType, string> = {
  file: 'f',
  dir: 'd',
  symlink: 'l',
  hardlink: 'h',
  char: 'c',
  block: 'b',
  fifo: 'p',
  whiteout: 'w',
  opaque: 'o',
};
const CODE_TYPE = new Map(Object.entries(TYPE_CODE).map(([type, code]) => [code, type as EntryType]));

export function encodeEntry(entry: LayerEntry): string {
  const digest = entry.digest === undefined ? 0 : entry.digest.slice('sha256:'.length);
  return JSON.stringify([
    entry.path,
    TYPE_CODE[entry.type],
    entry.size,
    entry.mode,
    entry.uid,
    entry.gid,
    entry.linkTarget ?? 0,
    digest,
  ]);
}

function decodeEntry(line: string, lineNumber: number): LayerEntry {
  let fields: unknown;
  try {
    fields = JSON.parse(line);
  } catch (err) {
    throw new InsightError('file-list-corrupt', `file list line ${lineNumber} is not JSON`, { cause: err });
  }
  if (!Array.isArray(fields) || fields.length !== 8) throw corrupt(lineNumber);
  const [path, code, size, mode, uid, gid, link, digest] = fields as unknown[];
  const type = typeof code === 'string' ? CODE_TYPE.get(code) : undefined;
  if (typeof path !== 'string' || type === undefined || ![size, mode, uid, gid].every(isCount))
    throw corrupt(lineNumber);
  const entry: LayerEntry = { path, type, size: size as number, mode: mode as number, uid: uid as number, gid: gid as number };
  if (typeof link === 'string') entry.linkTarget = link;
  if (typeof digest === 'string') entry.digest = `sha256:${digest}`;
  return entry;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function corrupt(lineNumber: number): InsightError {
  return new InsightError('file-list-corrupt', `file list line ${lineNumber} is not an entry`);
}

export interface FileListWriter {
  /** Resolves once the line is taken (waits while the destination is behind); lines go out in batches. */
  write(entry: LayerEntry): Promise<void>;
  /** Flushes the gzip trailer and resolves once the destination has finished. */
  end(): Promise<void>;
}

// Lines are handed to gzip this many characters at a time. A write per line was a round trip to
// libuv's pool per file, whose requests and buffers lived long enough to reach V8's old space: the
// analysis ran at 0.85 of the speed (bench/insight-analyse.ts).
const BATCH_CHARS = 64 * 1024;

/** Writes a file list to `destination` (a storage writer, a file), gzipped, with backpressure. */
export function fileListWriter(destination: Writable): FileListWriter {
  const gzip = createGzip();
  const done = pipeline(gzip, destination);
  let failure: Error | undefined;
  done.catch((err: Error) => {
    failure = err;
  });
  let batch = '';
  const flush = async (): Promise<void> => {
    if (failure !== undefined) throw failure;
    const text = batch;
    batch = '';
    if (text !== '' && !gzip.write(text)) await Promise.race([once(gzip, 'drain'), done]);
  };
  const put = async (line: string): Promise<void> => {
    if (failure !== undefined) throw failure;
    batch += `${line}\n`;
    if (batch.length >= BATCH_CHARS) await flush();
  };
  let started = false;
  return {
    async write(entry) {
      if (!started) {
        started = true;
        await put(HEADER);
      }
      await put(encodeEntry(entry));
    },
    async end() {
      if (!started) await put(HEADER);
      started = true;
      await flush();
      gzip.end();
      await done;
    },
  };
}

/** The entries of a stored file list, one at a time; `file-list-corrupt` if it is not one. */
export async function* readFileList(source: Readable): AsyncGenerator<LayerEntry> {
  const gunzip = createGunzip();
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let lineNumber = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      pending += decoder.write(chunk);
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        lineNumber++;
        if (lineNumber === 1) {
          if (line !== HEADER) throw new InsightError('file-list-corrupt', 'not a Berth file list (version 1)');
        } else yield decodeEntry(line, lineNumber);
      }
    }
  } catch (err) {
    if (err instanceof InsightError) throw err;
    throw new InsightError('file-list-corrupt', `file list unreadable: ${(err as Error).message}`, { cause: err });
  } finally {
    source.unpipe(gunzip);
    source.destroy();
    gunzip.destroy();
  }
  if (pending + decoder.end() !== '' || lineNumber === 0)
    throw new InsightError('file-list-corrupt', 'file list ends mid-line');
}
