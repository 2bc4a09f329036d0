/**
 * The ceilings' counterpart: a trivial server started by the benchmark on the servers' CPU.
 *   node trivial-server.js http   node:http, answering "ok", streaming /file and /mem, swallowing bodies
 *   node trivial-server.js raw    a bare TCP server answering every request head with a fixed response,
 *                                 so the load generator, not the server, is what runs out of CPU
 * Prints {"port":N} on stdout once listening.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';

const MiB = 1024 * 1024;

function httpServer(): net.Server {
  const block = Buffer.alloc(MiB, 0x5a);
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'GET' && url.pathname === '/file') {
        const file = url.searchParams.get('path') ?? '';
        const hwm = Number(url.searchParams.get('hwm') ?? 65536);
        const { size } = await stat(file);
        res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
        await pipeline(createReadStream(file, { highWaterMark: hwm }), res);
      } else if (req.method === 'GET' && url.pathname === '/mem') {
        const size = Number(url.searchParams.get('size') ?? MiB);
        res.writeHead(200, { 'content-length': size });
        for (let sent = 0; sent < size; sent += block.length) {
          const piece = size - sent >= block.length ? block : block.subarray(0, size - sent);
          if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
        }
        res.end();
      } else if (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH') {
        req.on('data', () => undefined);
        req.on('end', () => {
          res.writeHead(201, { 'content-length': 0 });
          res.end();
        });
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
        res.end('ok');
      }
    } catch (err) {
      res.destroy(err as Error);
    }
  };
  // Nothing is lost by not awaiting: answer catches every error itself.
  const server = http.createServer((req, res) => void answer(req, res));
  server.keepAliveTimeout = 120_000;
  server.requestTimeout = 0;
  return server;
}

function rawServer(): net.Server {
  const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok', 'latin1');
  const end = Buffer.from('\r\n\r\n');
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    let tail: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      let from = 0;
      let at: number;
      while ((at = buf.indexOf(end, from)) >= 0) {
        socket.write(response);
        from = at + 4;
      }
      tail = buf.subarray(Math.max(from, buf.length - 3));
    });
    socket.on('error', () => undefined);
  });
}

const mode = process.argv[2];
const server = mode === 'raw' ? rawServer() : mode === 'http' ? httpServer() : null;
if (!server) {
  process.stderr.write('usage: trivial-server http|raw\n');
  process.exit(2);
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
