/**
 * `--notify`: the receiver both registries send their events to. It runs in the load generator's
 * process (so on its CPU, not the servers'), answers every POST at once with 200 and counts what
 * arrived, so that the run can say each registry really delivered while it was measured.
 */
import http from 'node:http';
import type net from 'node:net';

export interface NotificationSink {
  url: string;
  /** Envelopes and events received since the last call. */
  take(): { envelopes: number; events: number };
  close(): Promise<void>;
}

export async function startNotificationSink(): Promise<NotificationSink> {
  let envelopes = 0;
  let events = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      envelopes++;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown[] };
        events += body.events?.length ?? 0;
      } catch {
        // Counted as an envelope without events: the run reports it rather than failing the sender.
      }
      res.writeHead(200, { 'content-length': 0 });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/events`,
    take() {
      const got = { envelopes, events };
      envelopes = 0;
      events = 0;
      return got;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The `notifications` section both registries get: the same keys, since Berth reads Distribution's. */
export function notificationsYaml(url: string): string {
  return `notifications:
  endpoints:
    - name: bench
      url: ${url}
      timeout: 5s
      threshold: 5
      backoff: 1s
`;
}
