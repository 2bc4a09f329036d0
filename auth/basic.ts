/**
 * Credentials from an `Authorization: Basic …` value, or null when it is not one or is malformed.
 * containers/image sends `Basic Og==` (":") when it has no credentials: see isAnonymous.
 */
export function parseBasic(header: string): { user: string; password: string } | null {
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return null;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** The token from an `Authorization: Bearer …` value, or null. */
export function parseBearer(header: string): string | null {
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
  return m ? m[1] : null;
}

export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Empty user and password: a client without credentials that answers a Basic challenge anyway. */
export function isAnonymous(creds: { user: string; password: string }): boolean {
  return creds.user === '' && creds.password === '';
}
