import type { ServerHttp2Session } from 'node:http2';
import type { Server, Socket } from 'node:net';

/** A listening server whose connections can be drained: HTTP/1 keep-alive connections and HTTP/2 sessions alike. */
export interface Drainable {
  /**
   * Stops accepting connections, lets requests in flight finish for up to `drainMs`, then cuts what
   * is left; resolves whether everything finished in time.
   */
  drain(drainMs: number): Promise<boolean>;
}

type Http1Aware = Server & { closeIdleConnections?(): void };

/**
 * Watches `server`'s connections from now on. HTTP/1 connections that go idle are closed by the
 * server's own closeIdleConnections (an HTTP/2 server with allowHTTP1 has it too, for its HTTP/1
 * side). HTTP/2 sessions have no notion of idle there: each gets a GOAWAY, which lets its open
 * streams finish and refuses new ones, and closes the session once they are done. At the deadline
 * every socket is destroyed, whichever protocol it speaks (Http2SecureServer has no
 * closeAllConnections).
 */
export function drainable(server: Http1Aware): Drainable {
  const sockets = new Set<Socket>();
  const sessions = new Set<ServerHttp2Session>();
  let draining = false;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: ServerHttp2Session) => {
    // A handshake that was under way when the drain began still ends in a session: close it too.
    if (draining) session.close();
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  return {
    drain(drainMs) {
      draining = true;
      return new Promise((resolve) => {
        let done = false;
        const sweep = setInterval(() => server.closeIdleConnections?.(), 100);
        const deadline = setTimeout(() => {
          for (const session of sessions) session.destroy();
          for (const socket of sockets) socket.destroy();
          finish(false);
        }, drainMs);
        function finish(clean: boolean) {
          if (done) return;
          done = true;
          clearInterval(sweep);
          clearTimeout(deadline);
          resolve(clean);
        }
        server.close(() => finish(true));
        server.closeIdleConnections?.();
        for (const session of sessions) session.close();
      });
    },
  };
}
