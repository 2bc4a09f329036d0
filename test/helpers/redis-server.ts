import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { removeTree, spawnDaemon, waitUntil, type Daemon } from './daemon';
import { freePort } from './ports';
import { requireTool } from './tools';

export interface RedisServer {
  /** The unix socket it listens on: what `redis.addr` takes. */
  addr: string;
  /** With `tls`: `127.0.0.1:PORT`, where it speaks TLS (the socket stays plain). */
  tlsAddr?: string;
  /** SIGKILL: no goodbye to its clients, as a crash or an OOM kill. */
  kill(): Promise<void>;
  /** Starts it again on the same socket, empty (no persistence). */
  restart(): Promise<void>;
  /** Sends one command (inline protocol) and returns the raw reply. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

export interface RedisTls {
  /** PEM files: its certificate and key. */
  certificate: string;
  key: string;
  /** A PEM CA file: clients must present a certificate it signed. */
  clientCa?: string;
}

/**
 * Debian's redis-server on a unix socket in a temp dir, nothing saved to disk; with `tls`, also TLS
 * on a loopback port.
 */
export async function startRedis(opts: { tls?: RedisTls } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-redis-'));
  const addr = path.join(dir, 'redis.sock');
  const { tls } = opts;
  const tlsPort = tls && (await freePort());
  const tlsArgs =
    tls && tlsPort !== undefined
      ? ['--tls-port', String(tlsPort), '--tls-cert-file', tls.certificate, '--tls-key-file', tls.key, ...(tls.clientCa ? ['--tls-ca-cert-file', tls.clientCa, '--tls-auth-clients', 'yes'] : ['--tls-auth-clients', 'no'])]
      : [];
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
    const d = spawnDaemon(requireTool('redis-server'), ['--port', '0', '--unixsocket', addr, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir, ...tlsArgs]);
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
    tlsAddr: tlsPort === undefined ? undefined : `127.0.0.1:${tlsPort}`,
    kill,
    restart: start,
    command,
    async stop() {
      await daemon?.stop(1000);
      await removeTree(dir);
    },
  };
}
