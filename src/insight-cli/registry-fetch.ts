export interface Credentials {
  user: string;
  password: string;
}

/** The parameters of a `WWW-Authenticate` challenge: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  return { scheme, params };
}

function basic(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.user}:${c.password}`).toString('base64');
}

/**
 * GETs registry URLs as a docker client does: anonymously first; on a 401 with a Bearer challenge,
 * a token from its realm for its service and scope (with the basic credentials when given), then
 * again with it; on a Basic challenge, again with the credentials. The authorization found is kept
 * for the next requests (polling asks the same scope).
 */
export class RegistryFetch {
  private authorization: string | undefined;

  constructor(private readonly credentials?: Credentials) {}

  /** `accept`: what to ask for (manifests need their media types named); JSON by default. */
  async get(url: string, accept = 'application/json'): Promise<Response> {
    const first = await this.send(url, accept);
    if (first.status !== 401) return first;
    const challenge = first.headers.get('www-authenticate');
    await first.arrayBuffer();
    if (challenge === null) return first;
    const { scheme, params } = parseChallenge(challenge);
    if (scheme === 'basic' && this.credentials) this.authorization = basic(this.credentials);
    else if (scheme === 'bearer' && params.realm) this.authorization = `Bearer ${await this.token(params)}`;
    else return this.send(url, accept);
    return this.send(url, accept);
  }

  private send(url: string, accept: string): Promise<Response> {
    return fetch(url, { headers: this.authorization ? { authorization: this.authorization, accept } : { accept } });
  }

  private async token(params: Record<string, string>): Promise<string> {
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) for (const scope of params.scope.split(' ')) url.searchParams.append('scope', scope);
    const res = await fetch(url, { headers: this.credentials ? { authorization: basic(this.credentials) } : {} });
    const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!res.ok || token === undefined) throw new Error(`the token server refused (${res.status})${this.credentials ? '' : ': pass --user and --password'}`);
    return token;
  }
}
