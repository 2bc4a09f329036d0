import type http from 'node:http';
import type { Registry } from 'prom-client';
import { urlPath } from '../http/urls';

/** What a scrape answers: the text of some registry, or of a group of workers' registries summed. */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

export function registryMetrics(registry: Registry): MetricsSource {
  return { contentType: registry.contentType, metrics: () => registry.metrics() };
}

/**
 * The debug listener's handler: `/metrics` in Prometheus text format. It runs on a separate server
 * so that scraping never passes through registry auth and the port can stay inside the cluster.
 */
export function debugHandler(source: MetricsSource): http.RequestListener {
  return (req, res) => {
    const path = urlPath(req.url ?? '/');
    if (req.method === 'GET' && path === '/metrics') {
      source.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': source.contentType, 'Content-Length': Buffer.byteLength(text) });
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
