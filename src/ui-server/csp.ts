/**
 * The UI's Content-Security-Policy: its own scripts, styles and API calls only; no inline code, no
 * framing. `connect-src` names one more origin only when the token endpoint lives elsewhere.
 */
export function uiCsp(tokenOrigin?: string): string {
  const connect = tokenOrigin ? `'self' ${tokenOrigin}` : "'self'";
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

/**
 * The origin of a configured token realm (auth.token.realm) the UI must be allowed to call, or
 * undefined when there is none to add: no realm (the built-in endpoint, on the registry's own
 * origin), a realm on the registry's configured public origin (http.host), or a URL that has no
 * http(s) origin. Only the origin goes into the policy, never the path: CSP matches a path on
 * redirects differently, and the origin is what the browser checks for CORS anyway.
 */
export function externalTokenOrigin(realm: string | undefined, host: string | undefined): string | undefined {
  if (!realm) return undefined;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (host !== undefined && URL.canParse(host) && new URL(host).origin === url.origin) return undefined;
  return url.origin;
}
