import { parseChallenge } from './challenge';

/** How the registry wants clients to prove who they are (docs/auth.md). */
export type AuthMode = 'none' | 'basic' | 'token';

/**
 * Every request the UI makes. `credentials: 'omit'`: no cookies, and no HTTP authentication the
 * browser would add or ask for itself, so a 401 with `WWW-Authenticate: Basic` never opens the
 * browser's own login dialog; the UI answers it in the page instead.
 */
export function send(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, credentials: 'omit', cache: 'no-store' });
}

export class LoginFailed extends Error {}

interface CachedToken {
  token: string;
  /** ms since the epoch, with a margin before the real expiry. */
  until: number;
}

const CLIENT_ID = 'berth-ui';
/** Tokens are given up this long before they expire, so none expires in flight. */
const EXPIRY_MARGIN_MS = 15_000;

/**
 * Who the user is and the credentials the UI holds, in memory only: a reload forgets them (no
 * storage of any kind, so nothing outlives the tab). In token mode the password is used once, for
 * a refresh token from the token endpoint, which then buys the short-lived access tokens each view
 * needs (one per scope, kept until shortly before they expire).
 */
export class Session {
  mode: AuthMode = 'none';
  user: string | undefined;
  private realm = '';
  private service = '';
  private basic: string | undefined;
  private refresh: string | undefined;
  private tokens = new Map<string, CachedToken>();
  private listeners = new Set<() => void>();

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Asks `/v2/` without credentials: 200 is no auth, and a 401's challenge names the mode. */
  async detect(): Promise<void> {
    const res = await send('/v2/');
    if (res.ok) {
      this.mode = 'none';
      return;
    }
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    if (challenge?.scheme === 'bearer') {
      this.mode = 'token';
      this.realm = challenge.params.realm ?? '';
      this.service = challenge.params.service ?? '';
    } else this.mode = 'basic';
  }

  async login(user: string, password: string): Promise<void> {
    const basic = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;
    if (this.mode === 'token') {
      const url = this.realmUrl({ service: this.service, offline_token: 'true', client_id: CLIENT_ID });
      // A network error here is most often an external issuer that does not answer CORS (docs/ui.md).
      const res = await send(url, { headers: { authorization: basic } }).catch(() => {
        throw new LoginFailed(`Could not reach the token endpoint at ${new URL(url).origin}: an issuer on another origin must allow this page's origin by CORS.`);
      });
      if (res.status === 401 || res.status === 403) throw new LoginFailed('Wrong username or password.');
      if (res.status === 429) throw new LoginFailed('Too many failed logins: wait a minute and try again.');
      if (!res.ok) throw new LoginFailed(`The token endpoint answered ${res.status}.`);
      const body = (await res.json()) as { refresh_token?: string };
      this.refresh = body.refresh_token;
      // An issuer without refresh tokens is asked with the credentials for each scope, as docker does.
      this.basic = body.refresh_token ? undefined : basic;
    } else {
      const res = await send('/v2/', { headers: { authorization: basic } });
      if (res.status === 429) throw new LoginFailed('Too many failed logins: wait a minute and try again.');
      if (!res.ok) throw new LoginFailed('Wrong username or password.');
      this.basic = basic;
    }
    this.user = user;
    this.tokens.clear();
    this.changed();
  }

  logout(): void {
    this.user = undefined;
    this.basic = undefined;
    this.refresh = undefined;
    this.tokens.clear();
    this.changed();
  }

  /** The Authorization header for a request needing `scope` (token mode), if the UI has one to send. */
  async authorization(scope: string | undefined): Promise<string | undefined> {
    if (this.mode === 'basic') return this.basic;
    if (this.mode !== 'token') return undefined;
    const key = scope ?? '';
    const cached = this.tokens.get(key);
    if (cached && cached.until > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(scope);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /** Drops a token the registry refused (expired early, or the user's rights changed). */
  forget(scope: string | undefined): void {
    this.tokens.delete(scope ?? '');
  }

  /** The realm with `params` added to whatever query it has (an external issuer's realm may carry one). */
  private realmUrl(params: Record<string, string>): string {
    const url = new URL(this.realm, location.origin);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.href;
  }

  private async fetchToken(scope: string | undefined): Promise<CachedToken> {
    let res: Response;
    if (this.refresh) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.refresh, service: this.service, client_id: CLIENT_ID });
      if (scope) form.set('scope', scope);
      res = await send(this.realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      if (res.status === 401) {
        // The refresh token was refused (the user was removed, or it expired): signed out.
        this.logout();
        return this.fetchToken(scope);
      }
    } else {
      const q: Record<string, string> = { service: this.service, client_id: CLIENT_ID };
      if (scope) q.scope = scope;
      res = await send(this.realmUrl(q), { headers: this.basic ? { authorization: this.basic } : {} });
    }
    if (!res.ok) throw new Error(`the token endpoint answered ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.access_token ?? body.token ?? '';
    return { token, until: Date.now() + (body.expires_in ?? 60) * 1000 - EXPIRY_MARGIN_MS };
  }
}
