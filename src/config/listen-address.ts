import { z } from 'zod';

/** Where to listen: `host` undefined means every interface (Distribution's `:5000`). */
export interface ListenAddress {
  host?: string;
  port: number;
}

/** Splits `host:port`, `:port` or `[v6]:port`; the error says what is wrong, without naming the key. */
function splitHostPort(addr: string, example: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]*)):(\d{1,5})$/.exec(addr);
  if (!m) throw new Error(`expected host:port, e.g. ${example} or 127.0.0.1${example}, got "${addr}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} is out of range (0 to 65535)`);
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

/** The one `host:port` parser: http.addr, http.debug.addr, and the addresses Berth logs. */
export function parseListenAddress(addr: string, key = 'http.addr'): ListenAddress {
  try {
    return splitHostPort(addr, ':5000');
  } catch (e) {
    throw new Error(`${key}: ${(e as Error).message}`, { cause: e });
  }
}

/** A configuration `host:port`, checked by the same parser that later splits it. */
export function hostPort(example: string) {
  return z.string().superRefine((addr, ctx) => {
    try {
      splitHostPort(addr, example);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
    }
  });
}

/** `host:port` for logs, with brackets around IPv6 hosts. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
