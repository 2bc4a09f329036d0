import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Who sent a request: the connection's peer, or the client a trusted proxy forwarded it for. */
export interface ClientAddress {
  ip: string;
  /** The peer's port; absent when `ip` came from X-Forwarded-For, which carries none. */
  port?: number;
  /** The trusted proxy the request came through, when `ip` came from X-Forwarded-For. */
  proxy?: string;
}

const CLIENT = Symbol('berth.client');
type WithClient = IncomingMessage & { [CLIENT]?: ClientAddress };

/** `::ffff:10.0.0.1`, as a dual-stack listener reports an IPv4 peer, is 10.0.0.1. */
function plain(ip: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
}

function family(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

/** http.trustedproxies as a BlockList; the schema has checked every entry (`parseProxyEntry`). */
export function trustedProxies(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseProxyEntry(entry);
    if (!parsed) throw new Error(`not an address or CIDR: ${entry}`);
    if (parsed.prefix === undefined) list.addAddress(parsed.ip, family(parsed.ip));
    else list.addSubnet(parsed.ip, parsed.prefix, family(parsed.ip));
  }
  return list;
}

/** An IP address, or a CIDR `ip/prefix` within the family's bits; null for anything else. */
export function parseProxyEntry(entry: string): { ip: string; prefix?: number } | null {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
  if (!m || isIP(m[1]) === 0) return null;
  if (m[2] === undefined) return { ip: m[1] };
  const prefix = Number(m[2]);
  return prefix <= (isIP(m[1]) === 6 ? 128 : 32) ? { ip: m[1], prefix } : null;
}

/**
 * The client of `req`, worked out once per request. Only a peer in `trusted` is believed about
 * X-Forwarded-For, and only as far as the chain stays in trusted hands: walking from the right
 * (the hop nearest Berth), the first address that is not a trusted proxy is the client. Anything
 * left of it was written by that client and may be forged, which is why the leftmost entry is never
 * taken on its own (a login rate limit keyed on it could be dodged with any header).
 */
export function resolveClient(req: IncomingMessage, trusted: BlockList | undefined): ClientAddress {
  const peer = plain(req.socket.remoteAddress ?? 'unknown');
  const direct: ClientAddress = { ip: peer, port: req.socket.remotePort };
  let client = direct;
  if (trusted && isIP(peer) !== 0 && trusted.check(peer, family(peer))) {
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((h) => plain(h.trim())).filter((h) => h !== '');
    let proxy = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i];
      // A malformed hop ends the chain, and the request counts as the peer's own.
      if (isIP(hop) === 0) break;
      if (!trusted.check(hop, family(hop)) || i === 0) {
        client = { ip: hop, proxy };
        break;
      }
      proxy = hop;
    }
  }
  (req as WithClient)[CLIENT] = client;
  return client;
}

/** The client resolved for `req`; the bare peer when the app never resolved it (a test's request). */
export function clientOf(req: IncomingMessage): ClientAddress {
  return (req as WithClient)[CLIENT] ?? resolveClient(req, undefined);
}
