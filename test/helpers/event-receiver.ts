import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the receiver accepted, as it arrived. */
export interface Delivery {
  contentType: string | undefined;
  headers: http.IncomingHttpHeaders;
  body: { events: ReceivedEvent[] };
}

/** An event as a Distribution receiver reads it: plain JSON. */
export interface ReceivedEvent {
  id: string;
  timestamp: string;
  action: string;
  target: Record<string, unknown> & { repository: string; digest?: string; tag?: string; mediaType?: string };
  request: Record<string, unknown>;
  actor: Record<string, unknown>;
  source: Record<string, unknown>;
}

/**
 * A notification endpoint on 127.0.0.1: records every envelope it accepts. `accept` decides, per
 * POST, whether to take it (200) or refuse it (503, or the status it returns), to play a failing
 * receiver; refused envelopes are not recorded. `stop` and `start` take it down and bring it back on the same port.
 */
export class EventReceiver {
  readonly deliveries: Delivery[] = [];
  refused = 0;
  private server?: http.Server;
  private port = 0;

  constructor(private readonly accept: (body: Delivery['body']) => boolean | number = () => true) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  /** Every accepted event, in arrival order, redeliveries included. */
  get events(): ReceivedEvent[] {
    return this.deliveries.flatMap((d) => d.body.events);
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Delivery['body'];
        const verdict = this.accept(body);
        if (verdict !== true) {
          this.refused += 1;
          res.writeHead(verdict === false ? 503 : verdict).end();
          return;
        }
        this.deliveries.push({ contentType: req.headers['content-type'], headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once `done` holds for the events received, or rejects after `timeoutMs`. */
  async waitFor(done: (events: ReceivedEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.events)) {
      if (Date.now() > deadline) throw new Error(`receiver: condition not met within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => [e.action, e.target.repository, e.target.tag ?? e.target.digest]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
