import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { scanLayer, type LayerSummary } from '../../../src/insight/scan-layer';
import type { LayerEntry } from '../../../src/insight/layer-entry';
import type { SecretFinding } from '../../../src/insight/secret-finding';

export const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const TAR = 'application/vnd.oci.image.layer.v1.tar';
export const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** A tar entry: `content` makes a regular file unless `type` says otherwise. */
export interface TestEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  /** Default: the epoch, so that a layer's bytes depend on its files alone. */
  mtime?: Date;
}

/** A tar stream of `entries` written with tar-stream's pack, one entry at a time (backpressure). */
export function tarStream(entries: Iterable<TestEntry> | AsyncIterable<TestEntry>): Readable {
  const pack = tar.pack();
  void (async () => {
    try {
      for await (const e of entries) {
        const type = e.type ?? (e.content === undefined && e.name.endsWith('/') ? 'directory' : 'file');
        const header: Partial<tar.Header> & { name: string } = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: e.mtime ?? new Date(0) };
        if (e.linkname !== undefined) header.linkname = e.linkname;
        await new Promise<void>((resolve, reject) => {
          const done = (err?: Error | null) => (err ? reject(err) : resolve());
          if (type === 'file') pack.entry(header, e.content ?? '', done);
          else pack.entry(header, done);
        });
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  // A streamx stream: Node's pipe and pipeline take it through its async iterator.
  return Readable.from(pack);
}

export type Compression = 'none' | 'gzip' | 'zstd';

export function compress(source: Readable, compression: Compression): Readable {
  if (compression === 'none') return source;
  const stage = compression === 'gzip' ? zlib.createGzip() : zlib.createZstdCompress();
  return source.pipe(stage);
}

/** A whole layer blob in memory, for the small layers of the tests. */
export async function layerBlob(entries: TestEntry[], compression: Compression = 'gzip'): Promise<Buffer> {
  return buffer(compress(tarStream(entries), compression));
}

export interface ScanResult extends LayerSummary {
  entries: LayerEntry[];
  findings: SecretFinding[];
}

/** Scans a blob, keeping what the sinks receive (fine for the tests' small layers). */
export async function scanBlob(blob: Buffer | Readable, mediaType: string, secretHeadBytes?: number): Promise<ScanResult> {
  const entries: LayerEntry[] = [];
  const findings: SecretFinding[] = [];
  const source = Buffer.isBuffer(blob) ? Readable.from([blob]) : blob;
  const summary = await scanLayer(source, {
    mediaType,
    secretHeadBytes,
    onEntry: (e) => void entries.push(e),
    onFinding: (f) => void findings.push(f),
  });
  return { ...summary, entries, findings };
}

/** The entries as an async iterable, as mergeLayers takes a layer. */
export async function* iterate(entries: LayerEntry[]): AsyncGenerator<LayerEntry> {
  yield* entries;
}
