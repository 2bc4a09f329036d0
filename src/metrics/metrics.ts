import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Berth's Prometheus metrics on an app-owned registry (never the global one, so that tests and
 * several apps in one process do not collide). Names follow Prometheus conventions: a `berth_`
 * prefix, base units (seconds, bytes), `_total` on counters.
 */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  blobBytesReceived: Counter;
  blobBytesSent: Counter;
  uploadsInFlight: Gauge;
  storageDuration: Histogram<'driver' | 'operation' | 'result'>;
  storageFaults: Counter<'code'>;
  authFailures: Counter<'reason'>;
  gcRuns: Counter<'result'>;
  gcBytes: Counter;
  gcObjects: Counter<'kind'>;
  gcEvictedManifests: Counter;
  gcEvictedBytes: Counter;
  eventsDelivered: Counter<'endpoint'>;
  eventDeliveryFailures: Counter<'endpoint'>;
  eventsPending: Gauge<'endpoint'>;
  eventsOldestPendingAge: Gauge<'endpoint'>;
  eventsDropped: Counter;
  eventEndpointFailing: Gauge<'endpoint'>;
  eventsDeadLettered: Gauge<'endpoint'>;
  mirrorRequests: Counter<'mirror' | 'kind' | 'result'>;
  mirrorUpstreamErrors: Counter<'mirror' | 'kind'>;
  mirrorUpstreamBytes: Counter;
  mirrorServedBytes: Counter<'mirror'>;
  mirrorFetches: Counter<'result'>;
  insightQueueDepth: Gauge;
  insightLayersAnalysed: Counter<'outcome'>;
  insightBytesAnalysed: Counter;
  insightFindings: Counter<'rule'>;
  insightAnalysisDuration: Histogram;
  redisUp: Gauge;
  redisErrors: Counter;
  redisLookups: Counter<'table' | 'result'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean; /** `redis` is configured. */ redis?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Without redis there is no shared cache: an exported berth_redis_up of 0 would read as an outage.
  const redisRegisters = opts.redis ? registers : [];
  return {
    registry,
    httpRequests: new Counter({ name: 'berth_http_requests_total', help: 'HTTP requests by route name, method and status.', labelNames: ['route', 'method', 'status'], registers }),
    httpDuration: new Histogram({
      name: 'berth_http_request_duration_seconds',
      help: 'Time from request to the end of the response, by route name, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300],
      registers,
    }),
    blobBytesReceived: new Counter({ name: 'berth_blob_received_bytes_total', help: 'Blob bytes received in uploads.', registers }),
    blobBytesSent: new Counter({ name: 'berth_blob_sent_bytes_total', help: 'Blob bytes sent by blob GETs (not counting redirects).', registers }),
    uploadsInFlight: new Gauge({ name: 'berth_upload_requests_in_flight', help: 'Upload requests (POST, PATCH, PUT) this process is streaming now.', registers }),
    storageDuration: new Histogram({
      name: 'berth_storage_operation_duration_seconds',
      help: 'Storage driver operations by driver, operation and result (opening a stream, not the transfer).',
      labelNames: ['driver', 'operation', 'result'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    storageFaults: new Counter({
      name: 'berth_storage_faults_total',
      help: 'Requests failed by a storage fault, by code: an errno (ENOSPC, EDQUOT, EROFS, EMFILE, ENFILE, EIO, ECONNREFUSED, ETIMEDOUT, ...) or an S3 error (ServiceUnavailable, SlowDown, InternalError, HTTP503, ...).',
      labelNames: ['code'],
      registers,
    }),
    authFailures: new Counter({ name: 'berth_auth_failures_total', help: 'Refused requests by reason: unauthenticated (401), denied (403), rate_limited (429).', labelNames: ['reason'], registers }),
    gcRuns: new Counter({ name: 'berth_gc_runs_total', help: 'Garbage collections by result (ok, failed, skipped).', labelNames: ['result'], registers }),
    gcBytes: new Counter({ name: 'berth_gc_reclaimed_bytes_total', help: 'Bytes of blob data garbage collection deleted.', registers }),
    gcObjects: new Counter({ name: 'berth_gc_reclaimed_objects_total', help: 'Objects garbage collection deleted, by kind (blob, manifest).', labelNames: ['kind'], registers }),
    gcEvictedManifests: new Counter({ name: 'berth_gc_evicted_manifests_total', help: "Mirrored manifests garbage collection evicted (ttl or maxsize); also in berth_gc_reclaimed_objects_total.", registers }),
    gcEvictedBytes: new Counter({ name: 'berth_gc_evicted_bytes_total', help: "Bytes evicted manifests freed from their mirror's account (shared blobs stay).", registers }),
    eventsDelivered: new Counter({ name: 'berth_notification_events_delivered_total', help: 'Events a notification endpoint accepted, by endpoint (redeliveries included).', labelNames: ['endpoint'], registers }),
    eventDeliveryFailures: new Counter({ name: 'berth_notification_delivery_failures_total', help: 'Failed delivery attempts, by endpoint.', labelNames: ['endpoint'], registers }),
    eventsPending: new Gauge({ name: 'berth_notification_events_pending', help: 'Events recorded and not yet delivered, by endpoint, as of the last look at storage.', labelNames: ['endpoint'], registers }),
    eventsOldestPendingAge: new Gauge({
      name: 'berth_notification_oldest_pending_seconds',
      help: 'Age of the oldest event not yet delivered, by endpoint (0 when none): how long retries have been going on.',
      labelNames: ['endpoint'],
      registers,
    }),
    eventsDropped: new Counter({ name: 'berth_notification_events_dropped_total', help: 'Events removed undelivered from a full backlog (notifications.backlog.full: dropoldest).', registers }),
    eventEndpointFailing: new Gauge({
      name: 'berth_notification_endpoint_failing',
      help: 'Whether an endpoint has failed `threshold` attempts in a row and is backing off (1) or not (0), by endpoint.',
      labelNames: ['endpoint'],
      registers,
    }),
    eventsDeadLettered: new Gauge({
      name: 'berth_notification_events_deadlettered',
      help: 'Events set aside after `maxattempts` refusals, kept in storage until their marker is removed, by endpoint.',
      labelNames: ['endpoint'],
      registers,
    }),
    mirrorRequests: new Counter({
      name: 'berth_mirror_requests_total',
      help: "Pulls of mirrored manifests and blobs, by mirror (its prefix; proxy for Distribution's proxy), kind (manifest, blob) and result: hit (from the cache), miss (from the upstream), stale (cached tag served while the upstream failed).",
      labelNames: ['mirror', 'kind', 'result'],
      registers,
    }),
    mirrorUpstreamErrors: new Counter({
      name: 'berth_mirror_upstream_errors_total',
      help: 'Failed upstream requests, by mirror and kind (not-found, unauthorized, denied, rate-limited, unavailable, bad-response).',
      labelNames: ['mirror', 'kind'],
      registers,
    }),
    mirrorUpstreamBytes: new Counter({ name: 'berth_mirror_upstream_bytes_total', help: 'Blob bytes received from upstreams.', registers }),
    mirrorServedBytes: new Counter({ name: 'berth_mirror_served_bytes_total', help: 'Blob bytes sent to clients of mirrored repositories (cached or not), by mirror.', labelNames: ['mirror'], registers }),
    mirrorFetches: new Counter({ name: 'berth_mirror_blob_fetches_total', help: 'Upstream blob fetches by result (completed, failed).', labelNames: ['result'], registers }),
    insightQueueDepth: new Gauge({
      name: 'berth_insight_queue_depth',
      help: "Blobs queued for analysis in storage, as this process's last look at the queue found them (every process that analyses looks).",
      aggregator: 'max',
      registers,
    }),
    insightLayersAnalysed: new Counter({ name: 'berth_insight_layers_analysed_total', help: 'Blobs this process analysed, by outcome (analysed, not-a-layer, failed).', labelNames: ['outcome'], registers }),
    insightBytesAnalysed: new Counter({ name: 'berth_insight_bytes_analysed_total', help: 'Compressed bytes of the layers this process scanned (analysed or failed): its rate is the analysis throughput.', registers }),
    insightFindings: new Counter({ name: 'berth_insight_findings_total', help: 'Secrets found in the layers this process analysed, by rule (not counting those a record leaves out past its cap).', labelNames: ['rule'], registers }),
    insightAnalysisDuration: new Histogram({
      name: 'berth_insight_analysis_seconds',
      help: 'Time to analyse one blob, from opening it to its record written.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
      registers,
    }),
    // Across workers the lowest: 0 as soon as one of them reads storage instead.
    redisUp: new Gauge({ name: 'berth_redis_up', help: 'Whether the shared cache (redis) answers (1) or reads go to storage (0).', aggregator: 'min', registers: redisRegisters }),
    redisErrors: new Counter({ name: 'berth_redis_errors_total', help: 'Shared cache (redis) commands that failed or timed out.', registers: redisRegisters }),
    redisLookups: new Counter({
      name: 'berth_redis_lookups_total',
      help: 'Reads of the shared cache (redis), by table (tags, revisions, layers, tagLists, bodies) and result (hit, miss).',
      labelNames: ['table', 'result'],
      registers: redisRegisters,
    }),
  };
}
