import type { AddressInfo, Server } from 'node:net';
import { parseListenAddress } from './config/listen-address';

/** A start-up failure: print its one-line message and exit 1. */
export class StartupError extends Error {}

function describeListenError(err: NodeJS.ErrnoException, addr: string): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `http.addr: ${addr} is already in use`;
    case 'EACCES':
      return `http.addr: permission denied to listen on ${addr}`;
    case 'EADDRNOTAVAIL':
      return `http.addr: ${addr} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `http.addr: cannot resolve the host of ${addr}`;
    default:
      return `http.addr: cannot listen on ${addr}: ${err.message}`;
  }
}

/** Listens on `addr` (http.addr's syntax); a failure is a StartupError naming the address. */
export function listen(server: Server, addr: string): Promise<AddressInfo> {
  const { host, port } = parseListenAddress(addr);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new StartupError(describeListenError(err, addr)));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
