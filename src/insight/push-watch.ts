import type { Logger } from 'pino';
import type { EventOrigin } from '../events/event';
import type { Notifier } from '../events/notifier';
import type { Digest } from '../oci/digest';
import type { Registry } from '../oci/registry';
import { readImageConfig } from './report/image-config';
import { describeFinding, imageSecrets } from './image-secrets';
import type { LayerAnalysis } from './layer-analysis';
import type { LayerRecord } from './layer-records';
import type { SecretPolicy } from './secret-policy';

/** Berth's event action for an image pushed with secrets under `warn` (docs/architecture.md, "Image insight"). */
export const INSIGHT_SECRETS_ACTION = 'insight.secrets';

/** An image whose findings are told once its layers are analysed. */
export interface WatchedPush {
  name: string;
  digest: string;
  mediaType: string;
  size: number;
  tags: string[];
  layers: Digest[];
  config?: Digest;
  origin: EventOrigin;
}

export interface PushWatchDeps {
  registry: Registry;
  analysis: LayerAnalysis;
  secrets: SecretPolicy;
  logger: Logger;
  notifier?: Notifier;
  /** How often pending images' layers are looked at (insight.pollinterval). */
  pollMs: number;
  /** An image whose layers are not all analysed after this long is given up, with a warning. */
  giveUpMs?: number;
  /** Most images watched at once; beyond, the oldest is dropped (logged): memory stays bounded. */
  maxImages?: number;
}

interface Watched extends WatchedPush {
  since: number;
  records: Map<string, LayerRecord>;
}

/**
 * `warn`: once an image's layers are analysed (usually moments after its push), its secrets are
 * logged and, when an endpoint wants `insight.secrets`, sent as an event whose target is the
 * manifest with its findings (never the secrets). In memory: an image still pending when the
 * process stops is not told, though its findings stay in the insight API.
 */
export class PushWatch {
  private readonly watched: Watched[] = [];
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: PushWatchDeps) {}

  watch(push: WatchedPush): void {
    if (this.stopped || this.deps.secrets.for(push.name).mode === 'off') return;
    const max = this.deps.maxImages ?? 10_000;
    if (this.watched.length >= max) {
      const dropped = this.watched.shift()!;
      this.deps.logger.warn({ repository: dropped.name, digest: dropped.digest }, 'insight: too many pushes awaiting analysis; this one is not checked for secrets in the log');
    }
    this.watched.push({ ...push, since: Date.now(), records: new Map() });
    this.timer ??= setInterval(() => {
      this.running ??= this.pass().finally(() => (this.running = undefined));
    }, this.deps.pollMs).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Looks once at every watched image; those complete (or given up) leave the watch. */
  async pass(): Promise<void> {
    for (const image of [...this.watched]) {
      if (this.stopped) return;
      let done: boolean;
      try {
        done = await this.check(image);
      } catch (err) {
        this.deps.logger.warn({ err, repository: image.name, digest: image.digest }, 'insight: could not read the analysis of a pushed image; will look again');
        continue;
      }
      if (done) this.watched.splice(this.watched.indexOf(image), 1);
    }
    if (this.watched.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async check(image: Watched): Promise<boolean> {
    for (const layer of image.layers) {
      if (image.records.has(layer.value)) continue;
      const record = await this.deps.analysis.awaitRecord(layer, 0);
      if (record !== null) image.records.set(layer.value, record);
    }
    const pending = image.layers.filter((l) => !image.records.has(l.value));
    if (pending.length > 0) {
      if (Date.now() - image.since < (this.deps.giveUpMs ?? 3_600_000)) return false;
      this.deps.logger.warn({ repository: image.name, digest: image.digest, layers: pending.map((l) => l.value) }, 'insight: layers of a pushed image still not analysed; its secrets are not logged');
      return true;
    }
    const config = image.config === undefined ? null : (await readImageConfig(this.deps.registry.blobs, image.name, image.config)).config;
    const layers = image.layers.map((l) => ({ digest: l.value, record: image.records.get(l.value) ?? null }));
    const findings = imageSecrets(layers, config, this.deps.secrets.for(image.name));
    if (findings.length === 0) return true;
    this.deps.logger.warn(
      { repository: image.name, digest: image.digest, tags: image.tags, findings: findings.map(describeFinding) },
      `insight: image ${image.name}@${image.digest} ships ${findings.length} secret(s)`,
    );
    const { notifier } = this.deps;
    if (notifier?.wants(INSIGHT_SECRETS_ACTION)) {
      const target = {
        repository: image.name,
        digest: image.digest,
        mediaType: image.mediaType,
        size: image.size,
        tag: image.tags[0],
        findings: findings.map((f) => ({ path: f.path, rule: f.rule, fingerprint: f.fingerprint, layer: f.layer?.digest })),
      };
      await notifier.record(INSIGHT_SECRETS_ACTION, target, image.origin);
    }
    return true;
  }
}
