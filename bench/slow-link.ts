import net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

const BURST_MS = 10;

/** A TCP forwarder whose answers share one paced link: an upstream across a WAN, made locally. */
export interface SlowLink {
  /** `http://host:port` of the forwarder. */
  base: string;
  close(): Promise<void>;
}

/**
 * Forwards every connection to `target`; what comes back is paced to `bytesPerSecond` over all
 * connections together (one link, not one per connection), requests pass unpaced.
 */
export function startSlowLink(target: URL, bytesPerSecond: number): Promise<SlowLink> {
  let nextFree = performance.now();
  const pace = () =>
    new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        // The chunk leaves when the link has carried everything queued before it, give or take a
        // burst: timers fire a millisecond late or more, and the schedule, not the timer, sets the rate.
        const now = performance.now();
        nextFree = Math.max(now, nextFree) + (chunk.length * 1000) / bytesPerSecond;
        const wait = nextFree - now - BURST_MS;
        if (wait <= 0) cb(null, chunk);
        else setTimeout(() => cb(null, chunk), wait);
      },
    });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (s === client ? upstream : client).destroy());
    }
    client.pipe(upstream);
    upstream.pipe(pace()).pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        base: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
