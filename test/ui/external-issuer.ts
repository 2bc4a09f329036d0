import http from 'node:http';
import type { KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseScopes } from '../../auth/scope';
import type { Access } from '../../auth/types';
import { USERS } from '../auth/helpers';
import { sign } from '../auth/keys';

export const ISSUER = 'ext-issuer';

export interface Issuer {
  /** The token endpoint: http://127.0.0.1:<port>/token */
  realm: string;
  origin: string;
  /** `METHOD ?query-or-grant` of each request, for the test to check what the browser sent. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A tiny external token issuer on its own port (another origin than the registry's): alice (by her
 * USERS password) is granted every scope she asks for, anonymous callers nothing. It answers
 * CORS as docs/ui.md asks of an issuer the UI signs in through, unless `cors` is false.
 */
export async function startIssuer(key: KeyObject, kid: string, cors: boolean): Promise<Issuer> {
  const requests: string[] = [];
  const token = async (user: string | undefined, scopes: string[]) => {
    const access: Access[] = user === 'alice' ? parseScopes(scopes) : [];
    return sign(key, { iss: ISSUER, aud: 'berth', sub: user ?? '', access }, { kid });
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      if (cors) {
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
        res.setHeader('Access-Control-Allow-Headers', 'authorization, content-type');
      }
      const url = new URL(req.url ?? '/', 'http://issuer');
      let body = '';
      for await (const chunk of req) body += String(chunk);
      requests.push(`${req.method} ${req.method === 'POST' ? new URLSearchParams(body).get('grant_type') : url.search}`);
      if (req.method === 'OPTIONS') return void res.writeHead(204).end();
      let user: string | undefined;
      let scopes: string[];
      let refresh: string | undefined;
      if (req.method === 'POST') {
        const form = new URLSearchParams(body);
        user = /^refresh-(\w+)$/.exec(form.get('refresh_token') ?? '')?.[1];
        if (!user) return void res.writeHead(401).end();
        scopes = form.getAll('scope');
      } else {
        const auth = req.headers.authorization;
        if (auth) {
          const [name, password] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
          if (USERS[name as keyof typeof USERS] !== password) return void res.writeHead(401).end();
          user = name;
          if (url.searchParams.get('offline_token') === 'true') refresh = `refresh-${name}`;
        }
        scopes = url.searchParams.getAll('scope');
      }
      const issued = await token(user, scopes);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: issued, access_token: issued, expires_in: 300, refresh_token: refresh }));
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    realm: `${origin}/token`,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
