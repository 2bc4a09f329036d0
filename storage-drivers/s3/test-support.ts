import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Rgw } from '../../test/helpers/rgw';
import { withValidation } from '../decorator';
import type { StorageDriver } from '../types';
import { createS3Client, S3Context } from './context';
import { resolveS3Options, type S3DriverOptions } from './options';
import { S3Driver } from './s3-driver';

/** A driver whose client records the name of every command it sends (retries included). */
export function countingDriver(options: S3DriverOptions): { driver: StorageDriver; requests: string[] } {
  const resolved = resolveS3Options(options);
  const client = createS3Client(resolved);
  const requests: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests.push(String(context.commandName));
      return next(args);
    },
    { step: 'finalizeRequest', name: 'berthCountRequests' },
  );
  return { driver: withValidation(new S3Driver(new S3Context(client, resolved), client)), requests };
}

export interface RssMeasure {
  baseline: number;
  peak: number;
  growth: number;
}

/** Samples process RSS every 10 ms while `work` runs. */
export async function measureRss(work: () => Promise<void>): Promise<RssMeasure> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { baseline, peak, growth: peak - baseline };
}

let buckets = 0;

/** Driver options for a fresh bucket on the shared RGW. */
export async function freshOptions(rgw: Rgw, extra: Partial<S3DriverOptions> = {}): Promise<S3DriverOptions> {
  const bucket = `berth-${process.pid}-${++buckets}`;
  await rgw.createBucket(bucket);
  return {
    bucket,
    region: rgw.region,
    regionendpoint: rgw.endpoint,
    forcepathstyle: true,
    accesskey: rgw.accessKey,
    secretkey: rgw.secretKey,
    rootdirectory: '/berth-test',
    ...extra,
  };
}

export interface TcpRelay {
  /** http://127.0.0.1:PORT, to use as the driver's endpoint. */
  url: string;
  /** Connections accepted so far. */
  accepted: number;
  /** Connections still open (either side). */
  readonly open: number;
  /** The request line of each request seen (a chunk from the driver that starts with one). */
  requestLines: string[];
  close(): Promise<void>;
}

/**
 * Relays TCP connections to `target` byte for byte, so that a test sees the driver's connections
 * to S3 come and go. With `cutBody`, each connection is closed once that many bytes of the body of
 * its first response have come back from S3: a response cut short by the network. With `tls`, the
 * relay is an https endpoint that forwards plain HTTP to `target`.
 */
export async function startTcpRelay(target: string, { cutBody, tls }: { cutBody?: number; tls?: { key: string; cert: string } } = {}): Promise<TcpRelay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const relay: TcpRelay = {
    url: '',
    accepted: 0,
    requestLines: [],
    get open() {
      return sockets.size;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const relayConnection = (client: Socket) => {
    relay.accepted++;
    const upstream = connect(Number(port), hostname);
    track(client);
    track(upstream);
    let back = 0;
    /** Where the first response's head ends, once seen (its head is all in the first few KiB). */
    let head = '';
    let cutAt = Infinity;
    client.on('data', (chunk: Buffer) => {
      const line = /^[A-Z]+ \S+ HTTP\/1\.1\r\n/.exec(chunk.toString('latin1', 0, 4096));
      if (line) relay.requestLines.push(line[0].trim());
    });
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (cutBody !== undefined && cutAt === Infinity && head.length < 65536) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) cutAt = end + 4 + cutBody;
      }
      const room = cutAt - back;
      back += chunk.length;
      if (room > 0 && !client.write(room < chunk.length ? chunk.subarray(0, room) : chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
      if (back >= cutAt) {
        client.end();
        upstream.destroy();
      }
    });
    upstream.once('close', () => client.end());
    client.once('close', () => upstream.destroy());
  };
  const server = tls ? createTlsServer(tls, relayConnection) : createServer(relayConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}
