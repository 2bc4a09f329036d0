import { formatScope } from './scope';
import type { Access } from './types';

/** Quotes a challenge parameter value (RFC 7235 quoted-string). */
function q(v: string): string {
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

export function basicChallenge(realm: string): string {
  return `Basic realm=${q(realm)}, charset="UTF-8"`;
}

/** Distribution's shape: one `scope` parameter, scopes separated by spaces. */
export function bearerChallenge(realm: string, service: string, scopes: Access[], error?: 'invalid_token' | 'insufficient_scope'): string {
  let h = `Bearer realm=${q(realm)},service=${q(service)}`;
  if (scopes.length > 0) h += `,scope=${q(scopes.map(formatScope).join(' '))}`;
  if (error) h += `,error=${q(error)}`;
  return h;
}
