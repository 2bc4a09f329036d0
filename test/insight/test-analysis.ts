import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { StorageDriver } from '../../storage-drivers/types';
import type { Digest } from '../../src/oci/digest';
import { paths } from '../../src/oci/paths';
import { fileListWriter } from '../../src/insight/file-list-codec';
import { InsightError } from '../../src/insight/insight-error';
import type { LayerAnalysis } from '../../src/insight/layer-analysis';
import { readLayerRecord, writeLayerRecord, type LayerFormat, type LayerRecord } from '../../src/insight/layer-records';
import { scanLayer } from '../../src/insight/scan-layer';
import type { SecretFinding } from '../../src/insight/secret-finding';

const MEDIA_TYPE: Record<LayerFormat, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  tar: 'application/vnd.oci.image.layer.v1.tar',
};

/** Sniffs a blob's format as the analyser does: magic bytes, then the ustar magic of a tar header. */
function sniff(head: Buffer): LayerFormat | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

/**
 * A stand-in for the analyser (src/insight/analyser.ts) with the real storage format: the real scan,
 * the real file-list writer into the driver, then the real record. `manual`: nothing runs until
 * `drain()`, so a test sees the pending state; otherwise each job runs off the caller's turn.
 */
export class TestAnalysis implements LayerAnalysis {
  readonly enqueued: string[] = [];
  private readonly queued = new Map<string, Digest>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly opts: { manual?: boolean } = {},
  ) {}

  async enqueue(digest: Digest): Promise<void> {
    this.enqueued.push(digest.value);
    if (this.queued.has(digest.value) || (await readLayerRecord(this.driver, digest)) !== null) return;
    this.queued.set(digest.value, digest);
    if (!this.opts.manual) setImmediate(() => void this.start(digest));
  }

  async awaitRecord(digest: Digest, timeoutMs: number): Promise<LayerRecord | null> {
    await this.enqueue(digest);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await readLayerRecord(this.driver, digest);
      if (record !== null || Date.now() >= deadline) return record;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Runs every queued job and waits for them. */
  async drain(): Promise<void> {
    for (const digest of [...this.queued.values()]) void this.start(digest);
    await Promise.all(this.running);
  }

  private start(digest: Digest): Promise<void> {
    if (!this.queued.delete(digest.value)) return Promise.resolve();
    const job = this.analyse(digest).finally(() => this.running.delete(job));
    this.running.add(job);
    return job;
  }

  private async analyse(digest: Digest): Promise<void> {
    const started = Date.now();
    const blob = await this.driver.getContent(paths.blobData(digest));
    const format = sniff(blob);
    const base = { version: 1 as const, digest: digest.value, compressedSize: blob.length, findings: [] as SecretFinding[], analysedAt: new Date().toISOString() };
    if (format === undefined) {
      await writeLayerRecord(this.driver, digest, { ...base, outcome: 'not-a-layer', durationMs: Date.now() - started });
      return;
    }
    const out = new PassThrough();
    const stored = buffer(out);
    const writer = fileListWriter(out);
    try {
      const summary = await scanLayer(Readable.from([blob]), {
        mediaType: MEDIA_TYPE[format],
        onEntry: (e) => writer.write(e),
        onFinding: (f) => void base.findings.push(f),
      });
      await writer.end();
      await this.driver.putContent(paths.insightFileList(digest), await stored);
      const { uncompressedSize, fileCount, entryCount } = summary;
      await writeLayerRecord(this.driver, digest, { ...base, outcome: 'analysed', format, uncompressedSize, fileCount, entryCount, durationMs: Date.now() - started });
    } catch (err) {
      if (!(err instanceof InsightError)) throw err;
      await writeLayerRecord(this.driver, digest, { ...base, outcome: 'failed', format, error: { kind: err.kind, message: err.message }, durationMs: Date.now() - started });
    }
  }
}
