/** Every view has a real URL under the UI's path (History API): these are their shapes. */
export type Route =
  | { view: 'repositories'; q: string; last: string }
  | { view: 'login'; next: string }
  | { view: 'tags'; name: string; last: string }
  | { view: 'image'; name: string; reference: string }
  | { view: 'insight'; name: string; reference: string; layer: string; dir: string }
  | { view: 'storage' }
  | { view: 'not-found' };

export function parseRoute(base: string, pathname: string, search: string): Route {
  const q = new URLSearchParams(search);
  const rest = pathname.startsWith(base) ? pathname.slice(base.length) : pathname;
  let path: string;
  try {
    path = decodeURIComponent(rest.replace(/^\/+/, '').replace(/\/+$/, ''));
  } catch {
    return { view: 'not-found' };
  }
  if (path === '') return { view: 'repositories', q: q.get('q') ?? '', last: q.get('last') ?? '' };
  if (path === 'login') return { view: 'login', next: q.get('next') ?? '' };
  if (path === 'storage') return { view: 'storage' };
  const m = /^repo\/(.+?)(?:\/-\/(image|insight)\/([^/]+))?$/.exec(path);
  if (!m) return { view: 'not-found' };
  if (!m[2]) return { view: 'tags', name: m[1], last: q.get('last') ?? '' };
  if (m[2] === 'insight') return { view: 'insight', name: m[1], reference: m[3], layer: q.get('layer') ?? '', dir: q.get('dir') ?? '' };
  return { view: 'image', name: m[1], reference: m[3] };
}

/** Paths below the UI's base; names, tags and digests are URL-safe by the registry's grammar. */
export const paths = {
  repositories: (q = '', last = '') => `/${query({ q, last })}`,
  login: (next = '') => `/login${query({ next })}`,
  tags: (name: string, last = '') => `/repo/${name}${query({ last })}`,
  image: (name: string, reference: string) => `/repo/${name}/-/image/${reference}`,
  /** `layer`: the file tree shown (`final` or a layer's index); `dir`: its directory opened. */
  insight: (name: string, reference: string, tree: { layer?: string; dir?: string } = {}) => `/repo/${name}/-/insight/${reference}${query({ layer: tree.layer ?? '', dir: tree.dir ?? '' })}`,
  storage: () => '/storage',
};

function query(params: Record<string, string>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
