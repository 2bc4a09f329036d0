import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RequestListener } from 'node:http';
import pino, { type Logger } from 'pino';
import type { StorageDriver } from '../storage-drivers/types';
import type { Config } from './config/schema';
import { readCacheTtl, savesHashStates } from './config/derived';
import { createRegistry, type Registry } from './oci/registry';
import type { Sha256Worker } from './oci/remote-sha256';
import { LockTable, type Locker } from './oci/lock-table';
import { SessionLocks, type SessionExclusion } from './oci/session-exclusion';
import { UPLOAD_LEASE_TIMINGS, UploadLeases, type UploadLeaseTimings } from './oci/upload-lease';
import type { CachePeers } from './oci/read-cache';
import { paths } from './oci/paths';
import { createDispatcher } from './http/router';
import { renderError } from './http/error-renderer';
import { accessLog, requestId, type RequestObserver } from './http/access-log';
import { initState } from './http/request-state';
import { resolveClient, trustedProxies } from './http/client-address';
import { startUploadPurger } from './oci/upload-purger';
import { healthRoutes } from './http/health';
import { ReadinessLog } from './http/readiness-log';
import { startGcScheduler } from './oci/gc-scheduler';
import type { Metrics } from './metrics/metrics';
import { httpMetrics } from './metrics/http-metrics';
import { eventMetrics } from './metrics/event-metrics';
import { StorageHealth } from './storage-health';
import { connectRedisCache } from './redis/client';
import { createNotifier, type EventPeers } from './events/notifier';
import { formatAddress, parseListenAddress } from './config/listen-address';
import { configuredMirrors } from './mirror/mirrors';
import { MirrorService } from './mirror/mirror-service';
import { pullAliasOf } from './mirror/routing';
import { mirrorEviction } from './mirror/eviction';
import { PullLog } from './mirror/pull-log';
import { mirrorMetrics } from './metrics/mirror-metrics';
import { insightMetrics } from './metrics/insight-metrics';
import { LayerAnalyser } from './insight/analyser';
import { SecretPolicy } from './insight/secret-policy';
import { PushWatch } from './insight/push-watch';
import { StorageViews } from './insight/storage-view';
import { DirIndexes } from './insight/tree/dir-cache';
import { RequestActivity } from './insight/pacer';
import { queueFetchedBlobs } from './insight/fetched-blobs';
import type { AnalysisChild, ChildHooks } from './insight/child/analysis-child';
import { parseDigest, type Digest } from './oci/digest';
import type { InsightPeers } from './insight/layer-analysis';
import type { LeaseTimings } from './oci/lease';

/** The most listeners one response is expected to carry (see the handler). */
const RESPONSE_LISTENERS = 32;
/** Readiness waits this long for the storage driver to answer. */
const READINESS_TIMEOUT_MS = 2_000;
const STORAGE_PROBE_INTERVAL_MS = 5_000;
import { createAuth } from '../auth';
import { createAuthorizer } from './http/auth-adapter';
import { tokenRoutes } from './http/auth-token-routes';
import { uiRoutes } from './http/ui-routes';
import { uiSite } from './ui-server/site';
import { externalTokenOrigin } from './ui-server/csp';
import { DEFAULT_UI_DIRECTORY } from './ui-server/assets';

export interface AppDeps {
  config: Config;
  driver: StorageDriver;
  logger?: Logger;
  /** Where request, upload and GC metrics go; none are kept without it. */
  metrics?: Metrics;
  /** While a storage fault keeps readiness down, how often a probe write checks for recovery (default 5 s). */
  storageProbeIntervalMs?: number;
  /** How often an idle notification endpoint looks for events other processes recorded (default 2 s). */
  eventPollMs?: number;
  /** How often mirrored manifests' pulls are written for eviction (default PULL_FLUSH_MS). */
  mirrorPullFlushMs?: number;
  /** The thread hashing uploads with storage.uploads.hashstate (default: the process's own). */
  sha256Worker?: Sha256Worker;
  /** The timings of upload sessions' leases (default UPLOAD_LEASE_TIMINGS; `waitMs` also for locks in memory). */
  uploadLeaseTimings?: UploadLeaseTimings;
  /** In a group of workers: the primary, which holds the group's upload sessions (session-exclusion.ts). */
  sessionLocker?: Locker;
  /** The upload secret of a group of workers when http.secret is not configured (src/workers). */
  groupSecret?: Buffer;
  /** The other workers of the group, whose caches a write here must reach before it is answered. */
  cachePeers?: CachePeers;
  /** The other workers of the group, told of the events written here (slot 0 delivers them). */
  eventPeers?: EventPeers;
  /** In a group of workers: false until every worker listens (readiness waits for it). */
  groupStarted?: () => boolean;
  /** The timings of layer analysis claims (default CLAIM_TIMINGS in src/insight/analysis-queue.ts). */
  insightClaimTimings?: LeaseTimings;
  /**
   * Starts the analysis child (insight.runner: child) on the store this app's driver opens: the
   * background analysis then runs there, and this process analyses only what its pushes wait for.
   * None: the analysis runs in this process, paced (insight/pacer.ts). `claimTag` ends the owner
   * names of the children's claims (one per instance, the same in every worker of a group): this
   * process takes those claims over when its pushes wait for them.
   */
  insightChild?: { claimTag: string; start(hooks: ChildHooks): InsightChild };
  /** The other workers of the group, told of the blobs queued here (slot 0 analyses them). */
  insightPeers?: InsightPeers;
  /** Where the built web UI is (default dist/ui, which `npm run build` writes). */
  uiDirectory?: string;
}

/** The analysis child as the app drives it (insight/child/analysis-child.ts). */
export type InsightChild = Pick<AnalysisChild, 'start' | 'job' | 'yield' | 'stop'>;

export interface BerthApp {
  /** The request handler to mount on an http.Server. */
  handler: RequestListener;
  registry: Registry;
  /**
   * Loads or creates what must exist before serving (token keys, the htpasswd file); rejects with a
   * one-line reason when it cannot, so a broken auth set-up stops start-up instead of failing later.
   */
  ready(): Promise<void>;
  /** Starts the periodic jobs (upload purging); main calls this, tests usually do not. */
  startBackgroundTasks(): void;
  close(): Promise<void>;
}

function groupStarting(started: (() => boolean) | undefined): (() => string | undefined) | undefined {
  return started && (() => (started() ? undefined : 'the other workers of the group are still starting'));
}

/**
 * How requests on one upload session exclude each other (docs/architecture.md, "Uploads"). On S3
 * the part chain already fails a commit that raced another request (s3/upload-state.ts), and a
 * lease would cost about six requests more per PATCH; asked of the driver, not the config: the
 * driver is what writes. With a configured http.secret other replicas can reach a session, so a
 * lease in storage; otherwise only this process or its group can, and a lock in memory (held by
 * the group's primary) costs no storage operation.
 */
function uploadExclusion(config: Config, driver: StorageDriver, deps: AppDeps): SessionExclusion | undefined {
  const timings = deps.uploadLeaseTimings ?? UPLOAD_LEASE_TIMINGS;
  if (driver.name === 's3') return undefined;
  if (config.http.secret !== undefined) return new UploadLeases(driver, timings);
  return new SessionLocks(deps.sessionLocker ?? new LockTable(), timings.waitMs);
}

export function createApp(deps: AppDeps): BerthApp {
  const { config, driver } = deps;
  const logger = deps.logger ?? pino({ level: 'silent' });
  // Without a configured secret, upload sessions survive only within this process (or its group of
  // workers), as in Distribution.
  const secret = config.http.secret ?? deps.groupSecret ?? randomBytes(32);
  const { metrics } = deps;
  const readOnly = config.storage.maintenance.readonly.enabled;
  const health = new StorageHealth({ driver, logger, metrics, readOnly, probeIntervalMs: deps.storageProbeIntervalMs ?? STORAGE_PROBE_INTERVAL_MS });
  const onFault = health.report.bind(health);
  const redis = config.redis && connectRedisCache(config.redis, logger, metrics);
  const registry = createRegistry(driver, {
    secret,
    onUploadBytes: metrics && ((n) => metrics.blobBytesReceived.inc(n)),
    cache: { ttlMs: readCacheTtl(config), peers: deps.cachePeers, shared: redis?.cache },
    readOnly,
    saveHashStates: savesHashStates(config),
    hashStateMinBytes: config.storage.uploads.hashstateminsize,
    sha256Worker: deps.sha256Worker,
    uploadSessions: uploadExclusion(config, driver, deps),
    quietMs: config.storage.maintenance.gc.quietperiod,
  });
  const mirrorList = configuredMirrors(config);
  const auth = createAuth(config.auth, {
    logger,
    keyStorage: { driver, keyPath: paths.tokenSigningKey(), certificatePath: paths.tokenSigningCertificate(), readOnly },
    pullAlias: mirrorList.length === 0 ? undefined : (repository) => pullAliasOf(repository, mirrorList),
  });

  // Distribution's source record: this node's name and port, and a UUID that changes with each start.
  const notifier = createNotifier(config.notifications, {
    driver,
    logger,
    source: { addr: formatAddress(hostname(), parseListenAddress(config.http.addr).port), instanceID: randomUUID() },
    pollMs: deps.eventPollMs,
    observer: metrics && eventMetrics(metrics),
    peers: deps.eventPeers,
  });

  // Every process queues what is pushed to it; only one that runs background tasks analyses, in its
  // analysis child (insight/child) or in itself, yielding to the requests it serves (insight/pacer.ts).
  const insightOn = config.insight.enabled && !readOnly;
  const insightObserver = metrics && insightMetrics(metrics);
  let child: InsightChild | undefined;
  const activity = insightOn && !deps.insightChild ? new RequestActivity() : undefined;
  const analyser = insightOn
    ? new LayerAnalyser({
        driver,
        config: config.insight,
        logger,
        observer: insightObserver,
        claimTimings: deps.insightClaimTimings,
        activity,
        // Told here and to slot 0 (through the primary): whichever runs the analysis looks at once.
        onEnqueued: (d: Digest) => {
          child?.job(d);
          deps.insightPeers?.queued(d.value);
        },
        ...(deps.insightChild && { urgentOnly: true, takeOverTag: deps.insightChild.claimTag, onTakenOver: (d: Digest) => child?.yield(d) }),
      })
    : undefined;
  // Only slot 0's children (or, inline, its analyser) run; elsewhere these calls do nothing.
  if (analyser)
    deps.insightPeers?.onQueued((value) => {
      const d = parseDigest(value);
      if (child) child.job(d);
      else analyser.nudge(d);
    });
  if (analyser && deps.insightChild) {
    child = deps.insightChild.start({
      analysed: (record) => insightObserver?.analysed(record),
      queueDepth: (n) => insightObserver?.queueDepth(n),
      finished: (digest, released) => analyser.finishedElsewhere(digest, released),
    });
    // Every process analyses what its own pushes wait for (deny), whichever runs the child.
    analyser.start();
  }

  const pulls = mirrorList.length === 0 || readOnly ? undefined : new PullLog(driver, logger, deps.mirrorPullFlushMs);
  pulls?.start();
  const mirrorReports: Partial<ReturnType<typeof mirrorMetrics>> = metrics ? mirrorMetrics(metrics) : {};
  const mirrors =
    mirrorList.length === 0
      ? undefined
      : new MirrorService({
          mirrors: mirrorList,
          registry,
          driver,
          logger,
          spoolDirectory: config.mirror.spooldirectory,
          manifestMaxSize: config.validation.manifests.maxsize,
          maxDescriptors: config.validation.manifests.maxdescriptors,
          pulls,
          ...mirrorReports,
          blobObserver: queueFetchedBlobs(mirrorReports.blobObserver, analyser),
        });

  const secrets = new SecretPolicy(config.insight.repositories);
  const pushes = analyser && new PushWatch({ registry, analysis: analyser, secrets, logger, notifier, pollMs: config.insight.pollinterval });

  const ui = config.ui.enabled ? uiSite(config.ui.path, deps.uiDirectory ?? DEFAULT_UI_DIRECTORY, logger, externalTokenOrigin(config.auth.token?.realm, config.http.host)) : undefined;
  const dispatch = createDispatcher(
    registry,
    {
      deleteEnabled: config.storage.delete.enabled,
      readOnly,
      manifestMaxSize: config.validation.manifests.maxsize,
      manifestMaxDescriptors: config.validation.manifests.maxdescriptors,
      redirect: !config.storage.redirect.disable,
      host: config.http.host,
      relativeUrls: config.http.relativeurls,
      authorize: createAuthorizer(auth.controller, { host: config.http.host, tokenPath: auth.tokenPath, clientIdentity: config.http.tls?.clientidentity }),
      notifier,
      mirrors,
      insight: analyser && { analysis: analyser, secrets, config: config.insight, driver, logger, pushes, storage: new StorageViews(driver, registry.listing), dirs: new DirIndexes() },
    },
    {
      ...healthRoutes(driver, { timeoutMs: READINESS_TIMEOUT_MS, fault: () => health.fault, redis: redis && (() => redis.cache.status), starting: groupStarting(deps.groupStarted), log: new ReadinessLog(logger) }),
      token: auth.tokenServer && tokenRoutes(auth.tokenServer, auth.tokenPath, config.http.tls?.clientidentity),
      ui: ui && uiRoutes(ui),
    },
    renderError(logger, onFault),
  );

  const observers: RequestObserver[] = [];
  if (metrics) observers.push(httpMetrics(metrics));
  if (!config.log.accesslog.disabled) observers.push(accessLog(logger));
  const extraHeaders = Object.entries(config.http.headers);
  const proxies = trustedProxies(config.http.trustedproxies);
  const handler: RequestListener = (req, res) => {
    const state = initState(res, requestId(req));
    resolveClient(req, proxies);
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('X-Request-Id', state.reqId);
    for (const [k, values] of extraHeaders) res.setHeader(k, values);
    for (const observe of observers) observe(req, res, state);
    if (activity) {
      activity.enter();
      res.once('close', () => activity.leave());
    }
    // Every listener on a response goes with it: the observers', the abort signal's, the stream
    // plumbing's of a blob GET (up to a dozen). Node's default of 10 would warn of a leak there.
    res.setMaxListeners(RESPONSE_LISTENERS);
    void dispatch(req, res);
  };

  const stops: Array<() => void> = [];
  return {
    handler,
    registry,
    ready: async () => {
      await auth.ready();
      await mirrors?.ready();
      await ui?.bundle();
    },
    startBackgroundTasks() {
      notifier?.startDelivery();
      if (child) child.start();
      else analyser?.start();
      const purging = config.storage.maintenance.uploadpurging;
      if (purging.enabled && !readOnly)
        stops.push(startUploadPurger(registry.uploads, driver, logger, { age: purging.age, interval: purging.interval, dryRun: purging.dryrun }));
      const gc = config.storage.maintenance.gc;
      if (gc.enabled && !readOnly)
        stops.push(
          startGcScheduler(driver, registry.listing, logger, { interval: gc.interval, grace: gc.grace, quietMs: gc.quietperiod, deleteUntagged: gc.deleteuntagged, dryRun: gc.dryrun, onDeleting: notifier?.recordGcDeletions, eviction: mirrorEviction(driver, mirrorList, pulls) }, (result, report) => {
            // The collector deleted behind the caches' backs.
            registry.cache.forgetMutable();
            void registry.cache.tellPeers([{ table: '*' }]);
            if (!metrics) return;
            metrics.gcRuns.inc({ result });
            if (report && !report.dryRun) {
              metrics.gcBytes.inc(report.bytes);
              metrics.gcObjects.inc({ kind: 'blob' }, report.blobs.length);
              metrics.gcObjects.inc({ kind: 'manifest' }, report.manifests.length);
              metrics.gcEvictedManifests.inc(report.evicted.length);
              metrics.gcEvictedBytes.inc(report.evictedBytes);
            }
          }),
        );
    },
    async close() {
      health.stop();
      await redis?.close();
      for (const stop of stops.splice(0)) stop();
      await child?.stop();
      await analyser?.stop();
      await pushes?.stop();
      await notifier?.stop();
      await pulls?.stop();
      await mirrors?.close();
    },
  };
}
