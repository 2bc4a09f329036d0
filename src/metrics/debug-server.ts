import type http from 'node:http';
import { urlPath } from '../http/urls';
import type { Metrics } from './metrics';

/**
 * The debug listener's handler: `/metrics` in Prometheus text format. It runs on a separate server
 * so that scraping never passes through registry auth and the port can stay inside the cluster.
 */
export function debugHandler(metrics: Metrics): http.RequestListener {
  return (req, res) => {
    const path = urlPath(req.url ?? '/');
    if (req.method === 'GET' && path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
          res.end(text);
        },
        () => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end('metrics unavailable\n');
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  };
}
