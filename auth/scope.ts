import type { Access } from './types';

/**
 * The Docker token spec's scope grammar:
 *   scope        := resourcetype ":" resourcename ":" action [ "," action ]*
 *   resourcetype := resourcetypevalue [ "(" resourcetypevalue ")" ]
 *   resourcename := [ hostname "/" ] component [ "/" component ]*
 * The name may carry `host:port`, so the type is the text before the first colon and the actions
 * the text after the last one.
 */
const TYPE = /^[a-z0-9]+(\([a-z0-9]+\))?$/;
const ACTION = /^[a-z*]+$/;

export class ScopeError extends Error {}

export function parseScope(scope: string): Access {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) throw new ScopeError('malformed scope');
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(',').filter((a) => a !== '');
  if (!TYPE.test(type) || name === '' || name.length > 512 || !actions.every((a) => ACTION.test(a)))
    throw new ScopeError('malformed scope');
  return { type: type.replace(/\(.*\)$/, ''), name, actions: [...new Set(actions)] };
}

/** Several `scope` parameters, each possibly holding space-separated scopes (OAuth2 form style). */
export function parseScopes(values: string[]): Access[] {
  const out: Access[] = [];
  for (const v of values) for (const s of v.split(' ')) if (s !== '') out.push(parseScope(s));
  return mergeAccess(out);
}

export function formatScope(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(',')}`;
}

/** Merges entries for the same resource, keeping action order stable. */
export function mergeAccess(list: Access[]): Access[] {
  const byKey = new Map<string, Access>();
  for (const a of list) {
    const key = `${a.type}\u0000${a.name}`;
    const cur = byKey.get(key);
    if (!cur) {
      byKey.set(key, { type: a.type, name: a.name, actions: [...a.actions] });
      continue;
    }
    for (const act of a.actions) if (!cur.actions.includes(act)) cur.actions.push(act);
  }
  return [...byKey.values()];
}

/** Whether `have` includes `action` on the resource (`*` covers every action). */
export function accessIncludes(have: readonly Access[], type: string, name: string, action: string): boolean {
  return have.some((a) => a.type === type && a.name === name && (a.actions.includes(action) || a.actions.includes('*')));
}
