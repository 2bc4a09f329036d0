import type { Config } from '../../src/config/schema';
import type { Registry } from '../../src/oci/registry';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { queueLeftovers, waitUntil } from '../api/insight-helpers';
import { startRegistry, testConfig } from '../api/server';

/** The analysis, as the tests drive it. */
export interface TestAnalysis {
  /** The digests queued in storage and not analysed yet. */
  enqueued(): Promise<string[]>;
  /** Starts the analyser (if `manual` held it back) and waits until the queue is empty. */
  drain(): Promise<void>;
}

export interface InsightRegistry {
  url: string;
  registry: Registry;
  driver: StorageDriver;
  /** Undefined when the config turns insight off. */
  analysis?: TestAnalysis;
  close(): Promise<void>;
}

/**
 * The whole app (createApp) with its real analyser, polling the queue every 50 ms. `manual`: the
 * analyser does not start until `drain()`, so what is pushed stays queued (pending) until then.
 */
export async function startInsightRegistry(opts: { config?: Config; driver?: StorageDriver; manual?: boolean } = {}): Promise<InsightRegistry> {
  const given = opts.config ?? testConfig();
  const config: Config = { ...given, insight: { ...given.insight, pollinterval: 50 } };
  const driver = opts.driver ?? createMemoryDriver();
  const reg = await startRegistry({ config, driver });
  await reg.app.ready();
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    reg.app.startBackgroundTasks();
  };
  if (!opts.manual) start();
  const analysis: TestAnalysis | undefined = config.insight.enabled
    ? {
        enqueued: async () => (await queueLeftovers(driver)).jobs.map((job) => job.replace('-', ':')),
        drain: async () => {
          start();
          await waitUntil('the analysis queue to drain', async () => (await queueLeftovers(driver)).jobs.length === 0);
        },
      }
    : undefined;
  return { url: reg.url, registry: reg.app.registry, driver, analysis, close: () => reg.close() };
}
