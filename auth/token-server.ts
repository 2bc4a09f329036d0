import { headerValue, isAnonymous, parseBasic } from './basic';
import type { Htpasswd } from './htpasswd';
import type { Policy } from './policy';
import type { FailureLimiter } from './rate-limit';
import { formatScope, mergeAccess, parseScopes, ScopeError } from './scope';
import type { TokenIssuer } from './token-issue';
import type { TrustStore } from './trust';
import { TooManyAttempts, type Access, type AuthLogger } from './types';

export interface TokenRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  remote: string;
  /** See RequestLike.certificateUser. */
  certificateUser?: string;
  query: URLSearchParams;
  /** The urlencoded body of a POST. */
  form?: URLSearchParams;
}

export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

export interface TokenServerDeps {
  /** Users; without a file only anonymous tokens are issued. */
  htpasswd?: Htpasswd;
  policy: Policy;
  limiter: FailureLimiter;
  service: string;
  realm: string;
  material: () => Promise<{ issuer: TokenIssuer; trust: TrustStore }>;
  logger: AuthLogger;
  /** See AuthDeps.pullAlias. */
  pullAlias?: (repository: string) => string | undefined;
}

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly oauthError: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** The Docker token spec's endpoint: GET with Basic (or anonymous) and the OAuth2 POST form. */
export class TokenServer {
  constructor(private readonly d: TokenServerDeps) {}

  private async login(remote: string, user: string, password: string): Promise<string> {
    this.d.limiter.check(remote);
    if (this.d.htpasswd !== undefined && (await this.d.htpasswd.verify(user, password))) return user;
    this.d.limiter.fail(remote);
    throw new Refusal(401, 'invalid_grant', `unknown user or wrong password (user ${user.slice(0, 100)})`);
  }

  private checkService(service: string | null): void {
    if (service !== null && service !== this.d.service) throw new Refusal(400, 'invalid_request', `token asked for another service: ${service.slice(0, 100)}`);
  }

  private scopes(values: string[]): Access[] {
    try {
      return parseScopes(values);
    } catch (e) {
      if (e instanceof ScopeError) throw new Refusal(400, 'invalid_scope', 'malformed scope');
      throw e;
    }
  }

  async handle(req: TokenRequest): Promise<TokenResponse> {
    const oauth = req.method === 'POST';
    try {
      return oauth ? await this.post(req) : await this.get(req);
    } catch (e) {
      if (e instanceof TooManyAttempts)
        return { status: 429, headers: { ...NO_STORE, 'Retry-After': String(e.retryAfterSeconds) }, body: errorBody(oauth, 'TOOMANYREQUESTS', 'too many requests', 'slow_down') };
      if (!(e instanceof Refusal)) throw e;
      this.d.logger.warn({ remote: req.remote, reason: e.reason }, 'token request refused');
      const headers: Record<string, string> = { ...NO_STORE };
      if (e.status === 401) headers['WWW-Authenticate'] = `Basic realm="${this.d.realm.replace(/["\\]/g, '\\$&')}"`;
      const generic = e.status === 401 ? 'authentication required' : 'invalid request';
      return { status: e.status, headers, body: errorBody(oauth, e.status === 401 ? 'UNAUTHORIZED' : 'UNSUPPORTED', generic, e.oauthError) };
    }
  }

  private async get(req: TokenRequest): Promise<TokenResponse> {
    this.checkService(req.query.get('service'));
    const requested = this.scopes(req.query.getAll('scope'));
    const header = headerValue(req.headers, 'authorization');
    // Without credentials, docker and the other clients ask anonymously: a verified client
    // certificate's user then gets the token, so machines need no password.
    let user: string | null = req.certificateUser ?? null;
    let password = false;
    if (header !== undefined) {
      const creds = parseBasic(header);
      if (!creds) {
        this.d.limiter.check(req.remote);
        this.d.limiter.fail(req.remote);
        throw new Refusal(401, 'invalid_client', 'malformed authorization header');
      }
      if (!isAnonymous(creds)) {
        user = await this.login(req.remote, creds.user, creds.password);
        password = true;
      }
    }
    // A refresh token would let a certificate user go on after its certificate expires or is
    // removed from the client CAs: only password logins get one.
    const offline = req.query.get('offline_token') === 'true' && password;
    return this.respond(user, requested, offline, false);
  }

  private async post(req: TokenRequest): Promise<TokenResponse> {
    const form = req.form ?? new URLSearchParams();
    this.checkService(form.get('service'));
    const requested = this.scopes(form.getAll('scope'));
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const username = form.get('username');
      const password = form.get('password');
      if (!username || password === null) throw new Refusal(400, 'invalid_request', 'password grant without username or password');
      const user = await this.login(req.remote, username, password);
      return this.respond(user, requested, form.get('access_type') === 'offline', true);
    }
    if (grant === 'refresh_token') {
      const refresh = form.get('refresh_token');
      if (!refresh) throw new Refusal(400, 'invalid_request', 'refresh_token grant without a token');
      this.d.limiter.check(req.remote);
      const { issuer, trust } = await this.d.material();
      let user: string;
      try {
        user = await issuer.verifyRefresh(refresh, trust);
      } catch (e) {
        this.d.limiter.fail(req.remote);
        throw new Refusal(401, 'invalid_grant', `refresh token rejected: ${(e as Error).message}`);
      }
      // A user removed from the file loses its refresh tokens at once.
      if (this.d.htpasswd === undefined || !(await this.d.htpasswd.has(user)))
        throw new Refusal(401, 'invalid_grant', `refresh token of a user no longer known: ${user.slice(0, 100)}`);
      const res = await this.respond(user, requested, false, true);
      res.body.refresh_token = refresh;
      return res;
    }
    throw new Refusal(400, 'unsupported_grant_type', `unsupported grant_type ${String(grant).slice(0, 50)}`);
  }

  /**
   * Pull on a requested repository's alias too: the policy on the alias decides it, as it decides
   * the request, so this grants nothing the client could not have asked for by that name.
   */
  private withAliases(requested: Access[]): Access[] {
    const alias = this.d.pullAlias;
    if (!alias) return requested;
    const extra: Access[] = [];
    for (const r of requested) {
      if (r.type !== 'repository' || !(r.actions.includes('pull') || r.actions.includes('*'))) continue;
      const name = alias(r.name);
      if (name !== undefined) extra.push({ type: 'repository', name, actions: ['pull'] });
    }
    return extra.length === 0 ? requested : mergeAccess([...requested, ...extra]);
  }

  private async respond(user: string | null, requested: Access[], offline: boolean, oauth: boolean): Promise<TokenResponse> {
    const { issuer } = await this.d.material();
    const granted = this.d.policy.grantable(user, this.withAliases(requested));
    const issued = await issuer.issue(user ?? '', granted);
    const body: Record<string, unknown> = { access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
    // Docker's GET clients read `token`; OAuth2 clients read `access_token` and `scope`.
    if (!oauth) body.token = issued.token;
    else body.scope = granted.map(formatScope).join(' ');
    if (offline && user !== null) body.refresh_token = await issuer.issueRefresh(user);
    return { status: 200, headers: { ...NO_STORE }, body };
  }
}

function errorBody(oauth: boolean, code: string, message: string, oauthError: string): Record<string, unknown> {
  return oauth ? { error: oauthError, error_description: message } : { errors: [{ code, message }] };
}
