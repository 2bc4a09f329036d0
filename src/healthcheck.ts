import { formatAddress, parseListenAddress } from './config/listen-address';

/** How long a probe waits: less than the image's HEALTHCHECK --timeout, so the reason gets printed. */
export const HEALTHCHECK_TIMEOUT_MS = 4_000;

/**
 * The liveness URL of a server listening on `addr`, as seen from the same host (the container's
 * HEALTHCHECK runs inside it): a wildcard bind is reached on loopback.
 */
export function healthzUrl(addr: string): string {
  const { host, port } = parseListenAddress(addr);
  if (port === 0) throw new Error(`http.addr ${addr}: port 0 is chosen at start-up, so there is no known port to probe`);
  const target = host === undefined || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${formatAddress(target, port)}/healthz`;
}

/** GETs `url`; resolves to undefined on a 200, otherwise to why not (never rejects). */
export async function probeHealth(url: string, timeoutMs = HEALTHCHECK_TIMEOUT_MS): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return res.status === 200 ? undefined : `answered ${res.status}`;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
    return e.cause?.code ?? e.cause?.message ?? e.message;
  }
}
