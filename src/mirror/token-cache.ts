/**
 * Bearer tokens by realm, service and scope, kept until shortly before they expire so that a pull
 * of an image (a manifest, then its blobs) asks the upstream's token server once, not per request.
 * Docker Hub's token server is itself rate-limited. The clock is passed in so tests can move it.
 */
export interface CachedToken {
  token: string;
  /** Epoch milliseconds after which the token is not used again. */
  usableUntil: number;
}

/** The Docker token spec's default lifetime when a token response has no `expires_in`. */
export const DEFAULT_TOKEN_SECONDS = 60;

/**
 * How long before the upstream's expiry a token stops being used: requests take time in flight,
 * and clocks differ. A tenth of the lifetime, at most 10 s.
 */
export function usableUntil(now: number, expiresInSeconds: number): number {
  const lifetime = expiresInSeconds * 1000;
  return now + lifetime - Math.min(10_000, lifetime / 10);
}

export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  constructor(
    private readonly now: () => number,
    /** Bound on entries: a mirror serves many repositories, each with its own scope. */
    private readonly maxEntries = 1000,
  ) {}

  static key(realm: string, service: string | undefined, scope: string): string {
    return JSON.stringify([realm, service ?? '', scope]);
  }

  get(key: string): string | undefined {
    const hit = this.tokens.get(key);
    if (hit === undefined) return undefined;
    if (this.now() >= hit.usableUntil) {
      this.tokens.delete(key);
      return undefined;
    }
    return hit.token;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    this.tokens.delete(key);
    if (this.tokens.size >= this.maxEntries) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
    this.tokens.set(key, { token, usableUntil: usableUntil(this.now(), expiresInSeconds) });
  }

  /** Forgets a token the upstream refused, unless another request already replaced it. */
  invalidate(key: string, token: string): void {
    if (this.tokens.get(key)?.token === token) this.tokens.delete(key);
  }
}
