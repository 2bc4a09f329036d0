import http from 'node:http';
import { startFake, type FakeServer } from './fake-upstream';

/**
 * A loopback forwarder between Berth and a real upstream, so that the mirror's configured URL stays
 * the same while the test stops the upstream (`target = undefined`: every connection is cut at
 * once, as a stopped registry refuses it), points it at a restarted one, or cuts a blob's body
 * after `cutBlobAfter` bytes (an upstream dying mid-blob) or stops sending it after `stallBlobAfter`
 * bytes with the connection left open (a fetch caught mid-way). `requests` records what Berth asked.
 */
export interface UpstreamGate extends FakeServer {
  target: string | undefined;
  cutBlobAfter: number | undefined;
  stallBlobAfter: number | undefined;
}

export async function startGate(target: string): Promise<UpstreamGate> {
  const state: { target: string | undefined; cutBlobAfter: number | undefined; stallBlobAfter: number | undefined } = {
    target,
    cutBlobAfter: undefined,
    stallBlobAfter: undefined,
  };
  const server = await startFake((req, res) => {
    if (state.target === undefined) {
      req.socket.destroy();
      return;
    }
    const to = new URL(req.url ?? '/', state.target);
    const { host: _host, ...headers } = req.headers;
    const forward = http.request(to, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      const stall = state.cutBlobAfter === undefined;
      const cut = state.cutBlobAfter ?? state.stallBlobAfter;
      if (cut === undefined || req.method !== 'GET' || !/\/blobs\/sha256:/.test(to.pathname) || up.statusCode !== 200) {
        up.pipe(res);
        return;
      }
      let sent = 0;
      up.on('data', (chunk: Buffer) => {
        const room = cut - sent;
        if (room <= 0) return;
        res.write(chunk.subarray(0, room));
        sent += Math.min(room, chunk.length);
        if (sent >= cut && stall) up.pause();
        else if (sent >= cut) {
          up.destroy();
          // Flushed first, so the mirror has the bytes before the connection drops.
          res.once('drain', () => req.socket.destroy());
          setTimeout(() => req.socket.destroy(), 50);
        }
      });
    });
    forward.once('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  // Accessors, not copies: the handler reads the state the test sets.
  return Object.defineProperties(server, {
    target: { get: () => state.target, set: (v: string | undefined) => (state.target = v) },
    cutBlobAfter: { get: () => state.cutBlobAfter, set: (v: number | undefined) => (state.cutBlobAfter = v) },
    stallBlobAfter: { get: () => state.stallBlobAfter, set: (v: number | undefined) => (state.stallBlobAfter = v) },
  }) as UpstreamGate;
}
