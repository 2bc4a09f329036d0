import type { ViewContext } from './context';
import { h, replace } from './dom';
import { paths, parseRoute, type Route } from './routes';
import type { Api } from './api';
import type { Session } from './session';
import { themeToggle } from './theme';
import { repositoriesView } from './views/repositories';
import { tagsView } from './views/tags';
import { imageView } from './views/image';
import { insightView } from './views/insight';
import { loginView } from './views/login';
import { storageView } from './views/storage';

function render(ctx: ViewContext, route: Route): Promise<HTMLElement> | HTMLElement {
  switch (route.view) {
    case 'repositories':
      return repositoriesView(ctx, route.q, route.last);
    case 'login':
      return loginView(ctx, route.next);
    case 'tags':
      return tagsView(ctx, route.name, route.last);
    case 'image':
      return imageView(ctx, route.name, route.reference);
    case 'insight':
      return insightView(ctx, route.name, route.reference, { layer: route.layer, dir: route.dir });
    case 'storage':
      return storageView(ctx);
    default:
      return h('section', null, h('h1', null, 'Not found'), h('p', null, 'No view has this address. ', h('a', { href: ctx.href('/'), 'data-link': true }, 'See the repositories.')));
  }
}

const TITLES: Record<Route['view'], string> = { repositories: 'Repositories', login: 'Sign in', tags: 'Tags', image: 'Image', insight: 'Insight', storage: 'Storage', 'not-found': 'Not found' };

/** The page's frame (header, main, status region) and the client router over it. */
export function startApp(root: HTMLElement, base: string, session: Session, api: Api): void {
  const main = h('main', { id: 'main', tabindex: -1 });
  const status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const account = h('div', { class: 'account' });
  const href = (path: string) => base + path;
  let current: AbortController | undefined;

  const navigate = (path: string, opts: { replace?: boolean } = {}) => {
    if (opts.replace) history.replaceState(null, '', href(path));
    else history.pushState(null, '', href(path));
    void show();
  };
  const announce = (message: string, kind: 'info' | 'error' = 'info') => {
    status.className = `status ${kind}`;
    status.textContent = message;
  };

  const renderAccount = () => {
    if (session.mode === 'none') return replace(account, h('span', { class: 'muted' }, 'No authentication'));
    if (session.user)
      return replace(
        account,
        h('span', null, 'Signed in as ', h('strong', null, session.user)),
        h('button', { type: 'button', onclick: () => { session.logout(); announce('Signed out.'); navigate('/'); } }, 'Sign out'),
      );
    replace(account, h('span', { class: 'muted' }, 'Anonymous'), h('a', { href: href(paths.login(location.pathname.slice(base.length) + location.search)), 'data-link': true, class: 'button' }, 'Sign in'));
  };

  async function show(): Promise<void> {
    current?.abort();
    const controller = new AbortController();
    current = controller;
    const route = parseRoute(base, location.pathname, location.search);
    const ctx: ViewContext = { api, session, base, href, navigate, announce, signal: controller.signal };
    renderAccount();
    main.setAttribute('aria-busy', 'true');
    main.removeAttribute('data-view');
    document.title = `${TITLES[route.view]} · Berth`;
    const view = await render(ctx, route);
    if (controller.signal.aborted) return;
    replace(main, view);
    main.removeAttribute('aria-busy');
    // Tests and scripts wait for this: the view's data has arrived and is on screen.
    main.setAttribute('data-view', route.view);
    main.setAttribute('data-view-ms', String(Math.round(performance.now())));
    if (route.view !== 'login') main.focus({ preventScroll: true });
  }

  document.addEventListener('click', (e) => {
    const a = (e.target as Element | null)?.closest?.('a[data-link]');
    if (!(a instanceof HTMLAnchorElement) || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    history.pushState(null, '', a.pathname + a.search);
    status.textContent = '';
    void show();
  });
  window.addEventListener('popstate', () => {
    status.textContent = '';
    void show();
  });
  session.onChange(renderAccount);

  replace(
    root,
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'top' }, h('a', { href: href('/'), 'data-link': true, class: 'brand' }, 'Berth'), h('span', { class: 'tagline' }, 'registry'), h('div', { class: 'spacer' }), account, themeToggle()),
    status,
    main,
  );
  void show();
}
