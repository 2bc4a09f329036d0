import type { RequestObserver } from '../http/access-log';
import type { RouteName } from '../http/router';
import { responseCompleted } from '../http/protocol';
import type { Metrics } from './metrics';

const UPLOAD_ROUTES = new Set<RouteName>(['upload-start', 'upload']);
const AUTH_REASONS: Record<number, string> = { 401: 'unauthenticated', 403: 'denied', 429: 'rate_limited' };

/**
 * Per-request metrics, recorded when the response closes: count and duration by route name (the
 * router's, so labels stay bounded), blob bytes sent, upload requests in flight, auth refusals.
 */
export function httpMetrics(metrics: Metrics): RequestObserver {
  return (req, res, state) => {
    const started = process.hrtime.bigint();
    let uploading = false;
    // The route is known only once the router matched; uploads count from then on.
    res.once('close', () => {
      const route = state.route ?? 'other';
      const labels = { route, method: req.method ?? '', status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      if (route === 'blob' && req.method === 'GET' && res.statusCode < 300) {
        const sent = Number(res.getHeader('Content-Length') ?? 0);
        if (responseCompleted(res) && Number.isFinite(sent)) metrics.blobBytesSent.inc(sent);
      }
      const reason = AUTH_REASONS[res.statusCode];
      if (reason && state.route !== undefined) metrics.authFailures.inc({ reason });
      if (uploading) metrics.uploadsInFlight.dec();
    });
    state.onRoute = (route) => {
      if (UPLOAD_ROUTES.has(route) && req.method !== 'GET' && req.method !== 'DELETE') {
        uploading = true;
        metrics.uploadsInFlight.inc();
      }
    };
  };
}
