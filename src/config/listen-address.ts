/** Where to listen: `host` undefined means every interface (Distribution's `:5000`). */
export interface ListenAddress {
  host?: string;
  port: number;
}

/** Splits `host:port`, `:port` or `[v6]:port` (http.addr, already validated by the schema). */
export function parseListenAddress(addr: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]*)):(\d{1,5})$/.exec(addr);
  if (!m) throw new Error(`http.addr: expected host:port, got "${addr}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`http.addr: port ${port} is out of range`);
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

/** `host:port` for logs, with brackets around IPv6 hosts. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
