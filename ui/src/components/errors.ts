import { ApiError } from '../api';
import { h } from '../dom';
import type { ViewContext } from '../context';
import { paths } from '../routes';

/** What to tell the user about a failed call, in words that say what to do. */
export function explain(err: unknown, ctx: ViewContext, what: string): HTMLElement {
  const signIn = () => h('a', { href: ctx.href(paths.login(location.pathname.slice(ctx.base.length) + location.search)), 'data-link': true }, 'Sign in');
  if (err instanceof ApiError) {
    if (err.status === 401)
      return h('div', { class: 'notice error', role: 'alert' }, `You must sign in to ${what}. `, ctx.session.user ? 'Your account may not.' : signIn());
    if (err.status === 403) return h('div', { class: 'notice error', role: 'alert' }, `You are not allowed to ${what}${ctx.session.user ? '' : ' without signing in'}. `, ctx.session.user ? null : signIn());
    if (err.status === 404) return h('div', { class: 'notice error', role: 'alert' }, `Not found: ${err.message}`);
    return h('div', { class: 'notice error', role: 'alert' }, `Could not ${what}: ${err.message} (${err.status}${err.code ? ` ${err.code}` : ''})`);
  }
  return h('div', { class: 'notice error', role: 'alert' }, `Could not ${what}: ${err instanceof Error ? err.message : String(err)}`);
}
