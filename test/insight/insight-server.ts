import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createAuth } from '../../auth';
import type { Config } from '../../src/config/schema';
import { createAuthorizer } from '../../src/http/auth-adapter';
import { tokenRoutes } from '../../src/http/auth-token-routes';
import { renderError } from '../../src/http/error-renderer';
import { initState } from '../../src/http/request-state';
import { createDispatcher } from '../../src/http/router';
import { SecretPolicy } from '../../src/insight/secret-policy';
import type { InsightServices } from '../../src/insight/layer-analysis';
import { createRegistry, type Registry } from '../../src/oci/registry';
import { paths } from '../../src/oci/paths';
import { createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { testConfig } from '../api/server';
import { TestAnalysis } from './test-analysis';

export interface InsightRegistry {
  url: string;
  registry: Registry;
  driver: StorageDriver;
  /** Undefined when the config turns insight off. */
  analysis?: TestAnalysis;
  close(): Promise<void>;
}

/**
 * The registry's HTTP stack as src/app.ts assembles it (registry, auth, dispatcher, error renderer),
 * with `options.insight` built here around the test analyser: app.ts builds it from the real
 * analyser, which these tests do not depend on. Only what the insight routes meet is assembled (no
 * notifications, mirrors, metrics nor background jobs).
 */
export async function startInsightRegistry(opts: { config?: Config; driver?: StorageDriver; manual?: boolean } = {}): Promise<InsightRegistry> {
  const config = opts.config ?? testConfig();
  const driver = opts.driver ?? createMemoryDriver();
  const logger = pino({ level: 'silent' });
  const registry = createRegistry(driver, { secret: config.http.secret ?? 'a-test-secret-of-32-characters!!', quietMs: config.storage.maintenance.gc.quietperiod });
  const auth = createAuth(config.auth, { logger, keyStorage: { driver, keyPath: paths.tokenSigningKey(), certificatePath: paths.tokenSigningCertificate(), readOnly: false } });
  await auth.ready();
  const analysis = config.insight.enabled ? new TestAnalysis(driver, { manual: opts.manual }) : undefined;
  const insight: InsightServices | undefined = analysis && { analysis, secrets: new SecretPolicy(config.insight.repositories), config: config.insight, driver };
  const dispatch = createDispatcher(
    registry,
    {
      deleteEnabled: config.storage.delete.enabled,
      readOnly: false,
      manifestMaxSize: config.validation.manifests.maxsize,
      manifestMaxDescriptors: config.validation.manifests.maxdescriptors,
      redirect: false,
      relativeUrls: config.http.relativeurls,
      authorize: createAuthorizer(auth.controller, { tokenPath: auth.tokenPath }),
      insight,
    },
    { healthz: {}, readyz: {}, token: auth.tokenServer && tokenRoutes(auth.tokenServer, auth.tokenPath) },
    renderError(logger, () => {}),
  );
  const server = http.createServer((req, res) => {
    initState(res, 'test');
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    void dispatch(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    registry,
    driver,
    analysis,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
