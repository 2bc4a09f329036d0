import net from 'node:net';
import tls from 'node:tls';

/** What a connection's reads go to while a response is read from it. */
export interface ReadHandler {
  /**
   * `n` bytes arrived at the start of `buf`. Return false to stop reading until resume(); `buf` is
   * the handler's until it says otherwise (nextBuffer decides what the next read lands in).
   */
  onData(n: number, buf: Buffer): boolean;
  /** The buffer the next read lands in; undefined: the connection's own small one. */
  nextBuffer(): Buffer | undefined;
  /** The connection ended or failed (`err` is undefined for a clean end from the server). */
  onClose(err: Error | undefined): void;
}

/** The connection's own read buffer: the response head, and bodies read as a plain stream. */
const OWN_BUFFER = 64 * 1024;

/**
 * One HTTP/1.1 connection to the S3 endpoint whose socket reads land in buffers its handler
 * supplies (net's `onread`): Node's own sockets allocate a fresh buffer per read, which a large
 * download turns into a garbage-collection storm (bench/README.md, "Pull of 512 MiB").
 */
export class RawConnection {
  readonly socket: net.Socket;
  private readonly own = Buffer.allocUnsafeSlow(OWN_BUFFER);
  private handler: ReadHandler | null = null;
  /** Between a response's head and its body's reader (hold()): bytes that came meanwhile, copied. */
  private early: Buffer[] | null = null;
  closed = false;
  readonly origin: string;

  constructor(url: URL, connectTimeoutMs: number) {
    this.origin = url.origin;
    const onread = { buffer: () => this.handler?.nextBuffer() ?? this.own, callback: (n: number, buf: Buffer) => this.onData(n, buf) };
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.socket =
      url.protocol === 'https:'
        ? // tls passes `onread` on to its socket (Node's typings leave it out).
          tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, onread } as tls.ConnectionOptions)
        : net.connect({ host, port, onread });
    this.socket.setNoDelay(true);
    const connectTimer = setTimeout(() => this.socket.destroy(Object.assign(new Error(`connect to ${url.host} timed out`), { code: 'ETIMEDOUT' })), connectTimeoutMs);
    this.socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    this.socket.on('error', () => undefined);
    this.socket.once('end', () => this.socket.destroy());
    this.socket.once('close', () => {
      clearTimeout(connectTimer);
      this.closed = true;
      const h = this.handler;
      this.handler = null;
      h?.onClose(this.socket.errored ?? undefined);
    });
  }

  private onData(n: number, buf: Buffer): boolean {
    if (this.handler) return this.handler.onData(n, buf);
    if (this.early) {
      this.early.push(Buffer.from(buf.subarray(0, n)));
      return false;
    }
    // Nothing is asked of an idle connection: bytes there mean it is out of step. Drop it.
    this.socket.destroy();
    return false;
  }

  /** Whether `buf` is the connection's own read buffer, which its next read may overwrite. */
  ownsBuffer(buf: Buffer): boolean {
    return buf === this.own;
  }

  /** Whether it may carry a request: not closed, or closing, by either side. */
  get usable(): boolean {
    return !this.closed && !this.socket.destroyed && !this.socket.readableEnded;
  }

  /**
   * Gives the reads to `handler`: first the bytes kept since hold() (each a copy it may keep), then
   * a close that came meanwhile, then whatever the socket reads next.
   */
  attach(handler: ReadHandler): void {
    const early = this.early ?? [];
    this.early = null;
    this.handler = handler;
    // The handler may finish with the connection (hand it back, destroy it) on any of these.
    for (const buf of early) if (this.handler === handler) handler.onData(buf.length, buf);
    // A connection that closed while nobody read it would otherwise never report it.
    if (this.closed && this.handler === handler) {
      this.handler = null;
      handler.onClose(this.socket.errored ?? undefined);
    }
  }

  /**
   * Ends one handler's turn with the response still being read: bytes that come before the next
   * attach() are kept for it. A TLS socket goes on delivering what it has already decrypted after
   * its handler returned false (only the reads of the TCP socket beneath it stop), so the body's
   * first records can come between the head's handler and the body's.
   */
  hold(): void {
    this.handler = null;
    this.early ??= [];
  }

  /**
   * Leaves the connection idle (its reads land in its own buffer again). Bytes kept by hold() that
   * nobody took are beyond the response: the connection is out of step, and closed.
   */
  detach(): void {
    this.handler = null;
    const early = this.early;
    this.early = null;
    if (early && early.length > 0) this.socket.destroy();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** How long an idle connection is kept: below the 5 s most servers (and Node's agent) allow. */
const IDLE_MS = 4_000;
const MAX_IDLE = 16;

/**
 * As many as the SDK's agent opens to an endpoint (NodeHttpHandler's maxSockets): downloads beyond
 * them go through the SDK, whose agent queues them, rather than opening a socket each.
 */
export const MAX_CONNECTIONS = 50;

/** Connections to one endpoint: the idle keep-alive ones (most recently used first), and a cap on all. */
export class RawConnectionPool {
  private readonly idle: RawConnection[] = [];
  /** Open connections, idle or not. */
  private live = 0;

  constructor(
    private readonly connectTimeoutMs: number,
    private readonly maxConnections = MAX_CONNECTIONS,
  ) {}

  /** An idle connection or a new one; null when `maxConnections` are open and none is idle. */
  take(url: URL): RawConnection | null {
    for (let i = this.idle.findIndex((c) => c.origin === url.origin); i >= 0; i = this.idle.findIndex((c) => c.origin === url.origin)) {
      const [conn] = this.idle.splice(i, 1);
      if (!conn.usable) continue;
      conn.socket.setTimeout(0);
      conn.socket.ref();
      return conn;
    }
    if (this.live >= this.maxConnections) return null;
    const conn = new RawConnection(url, this.connectTimeoutMs);
    this.live++;
    // Only an idle connection has a timeout set (give()).
    conn.socket.on('timeout', () => conn.destroy());
    conn.socket.once('close', () => {
      this.live--;
      const at = this.idle.indexOf(conn);
      if (at >= 0) this.idle.splice(at, 1);
    });
    return conn;
  }

  /** Hands back a connection whose response was read to its end and that may serve another. */
  give(conn: RawConnection): void {
    conn.detach();
    if (!conn.usable || this.idle.length >= MAX_IDLE) return conn.destroy();
    conn.socket.setTimeout(IDLE_MS);
    conn.socket.unref();
    // Reading on while idle is how a close from the server (or stray bytes) is noticed.
    conn.resume();
    this.idle.unshift(conn);
  }
}
