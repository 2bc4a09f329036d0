import type { ViewContext } from '../context';
import { h } from '../dom';
import { LoginFailed } from '../session';

/** The login form: the credentials go to the token endpoint (token mode) or into the Basic header (htpasswd). */
export function loginView(ctx: ViewContext, next: string): HTMLElement {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'notice error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    ctx.session.mode === 'none' ? h('p', { class: 'muted' }, 'This registry has no authentication: there is nothing to sign in to.') : null,
    h('label', { for: 'login-user' }, 'Username'),
    user,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    error,
    submit,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    ctx.session.login(user.value, password.value).then(
      () => {
        ctx.announce(`Signed in as ${user.value}.`);
        ctx.navigate(next.startsWith('/') && !next.startsWith('//') ? next : '/');
      },
      (err: unknown) => {
        submit.disabled = false;
        error.textContent = err instanceof LoginFailed ? err.message : `Could not sign in: ${err instanceof Error ? err.message : String(err)}`;
        error.hidden = false;
        password.focus();
      },
    );
  });
  queueMicrotask(() => user.focus());
  return form;
}
