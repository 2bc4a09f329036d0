import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { removeTree, spawnDaemon, waitUntil, type Daemon } from './daemon';
import { requireTool } from './tools';

export interface RedisServer {
  /** The unix socket it listens on: what `redis.addr` takes. */
  addr: string;
  /** SIGKILL: no goodbye to its clients, as a crash or an OOM kill. */
  kill(): Promise<void>;
  /** Starts it again on the same socket, empty (no persistence). */
  restart(): Promise<void>;
  /** Sends one command (inline protocol) and returns the raw reply. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

/** Debian's redis-server on a unix socket in a temp dir, no TCP, nothing saved to disk. */
export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-redis-'));
  const addr = path.join(dir, 'redis.sock');
  let daemon: Daemon | undefined;
  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(addr);
      let reply = '';
      socket.setEncoding('utf8');
      socket.once('error', reject);
      socket.on('data', (d: string) => {
        reply += d;
        if (reply.endsWith('\r\n')) {
          socket.destroy();
          resolve(reply);
        }
      });
      socket.write(`${line}\r\n`);
    });
  const start = async () => {
    const d = spawnDaemon(requireTool('redis-server'), ['--port', '0', '--unixsocket', addr, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir]);
    daemon = d;
    await waitUntil('redis-server', async () => (await command('PING')).startsWith('+PONG'), d, 10_000);
  };
  await start();
  const kill = async () => {
    if (daemon?.proc.pid !== undefined) daemon.proc.kill('SIGKILL');
    await daemon?.stop(0);
  };
  return {
    addr,
    kill,
    restart: start,
    command,
    async stop() {
      await daemon?.stop(1000);
      await removeTree(dir);
    },
  };
}
