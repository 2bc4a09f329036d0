import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { Config } from '../config/schema';
import { answerFor } from '../http/error-table';
import { LayerAnalyser } from '../insight/analyser';
import { manifestReport } from '../insight/report/image-report';
import type { ManifestReport } from '../insight/report/report-types';
import { SecretPolicy } from '../insight/secret-policy';
import { storageView, type StorageView, type StorageViewProgress } from '../insight/storage-view';
import { parseDigest } from '../oci/digest';
import { Listing } from '../oci/listing';
import { createRegistry, type Registry } from '../oci/registry';
import { readReference } from '../http/manifest-routes';
import type { ImageName } from './image-name';
import type { Asked, ReportSource } from './run-insight';

/**
 * Reports straight from a store, with no registry running (`berth insight --store`): the same
 * report the API gives, from the same records. Layers without a record are analysed here, at
 * once, as a push under `deny` has them analysed: only those this image waits for, each claimed
 * in the store's queue so that a registry running on the same store does not analyse it too. A
 * store in `storage.maintenance.readonly` is only read: its pending layers stay pending.
 */
export class StoreSource implements ReportSource {
  private readonly registry: Registry;
  private readonly analyser: LayerAnalyser;
  private readonly policy: SecretPolicy;
  private readonly readOnly: boolean;

  constructor(
    private readonly driver: StorageDriver,
    config: Config,
    logger: Logger,
    private readonly onProgress?: (p: StorageViewProgress) => void,
  ) {
    // The secret signs upload state, which nothing here hands out.
    this.registry = createRegistry(driver, { secret: randomBytes(32) });
    this.readOnly = config.storage.maintenance.readonly.enabled;
    this.policy = new SecretPolicy(config.insight.repositories);
    this.analyser = new LayerAnalyser({ driver, config: config.insight, logger, urgentOnly: true });
    if (!this.readOnly) this.analyser.start();
  }

  async report(name: ImageName, waitMs: number): Promise<Asked<ManifestReport>> {
    if (name.host !== undefined) return { ok: false, message: `--store reads a store, not ${name.host}: name the image as repository:tag or repository@digest`, usage: true };
    try {
      const first = await this.ask(name);
      if (first.status !== 'pending' || this.readOnly || waitMs <= 0) return { ok: true, value: first };
      await Promise.all(pendingLayers(first).map((d) => this.analyser.awaitRecord(parseDigest(d), waitMs)));
      return { ok: true, value: await this.ask(name) };
    } catch (err) {
      return { ok: false, message: describe(err) };
    }
  }

  async storage(): Promise<Asked<StorageView>> {
    try {
      return { ok: true, value: await storageView(this.driver, new Listing(this.driver), this.onProgress) };
    } catch (err) {
      return { ok: false, message: describe(err) };
    }
  }

  /** Stops analysing; an analysis cut short stays queued for the registry. */
  close(): Promise<void> {
    return this.analyser.stop();
  }

  private ask(name: ImageName): Promise<ManifestReport> {
    const deps = {
      driver: this.driver,
      manifests: this.registry.manifests,
      blobs: this.registry.blobs,
      analysis: this.analyser,
      policy: this.policy.for(name.repository),
      readOnly: this.readOnly,
    };
    return manifestReport(deps, name.repository, name.reference, readReference(name.reference), (digest) => `/v2/${name.repository}/_berth/insight/${digest}`);
  }
}

/** The digests of the layers a pending report waits for, an index's children's included. */
function pendingLayers(report: ManifestReport): string[] {
  if (report.status !== 'pending') return [];
  if ('pending' in report) return report.pending.map((p) => p.digest);
  if (!('manifests' in report)) return [];
  return report.manifests.flatMap((child) => (child.report?.status === 'pending' ? child.report.pending.map((p) => p.digest) : []));
}

/** As the API would say it: the OCI code and message of a registry error, else the error's own. */
function describe(err: unknown): string {
  const answer = answerFor(err);
  return answer.error.code === 'UNKNOWN' ? (err as Error).message : `${answer.error.code}: ${answer.error.message}`;
}
