import type { ViewContext } from '../context';
import { add, h } from '../dom';
import { bytes, date } from '../format';
import { explain } from '../components/errors';
import { paths } from '../routes';

/** GET /v2/_berth/insight/storage (src/insight/storage-view.ts). */
interface Storage {
  storedBytes: number;
  referencedBytes: number;
  savedBySharing: number;
  unreferencedBytes: number;
  unreferencedBlobs: number;
  repositories: Array<{ name: string; bytes: number; exclusiveBytes: number; blobs: number }>;
  computedAt: string;
  durationMs: number;
}

const PAGE = 100;
const STORAGE = '/v2/_berth/insight/storage';

const stat = (label: string, value: string, testid?: string) => h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value', 'data-testid': testid }, value));

/** Registry-wide storage: what is stored, shared and reclaimable, and the repositories biggest first. */
export async function storageView(ctx: ViewContext): Promise<HTMLElement> {
  const section = h('section', { 'aria-labelledby': 'storage-title' }, h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: ctx.href(paths.repositories()), 'data-link': true }, 'Repositories'), ' / '), h('h1', { id: 'storage-title' }, 'Storage'));
  try {
    const { body: s } = await ctx.api.json<Storage>(STORAGE, { signal: ctx.signal });
    const rows = h('tbody');
    let shown = 0;
    const more = h('button', { type: 'button', class: 'more' });
    const showMore = () => {
      for (const r of s.repositories.slice(shown, shown + PAGE))
        rows.append(h('tr', null, h('td', null, h('a', { href: ctx.href(paths.tags(r.name)), 'data-link': true }, r.name)), h('td', { class: 'num' }, bytes(r.bytes)), h('td', { class: 'num' }, bytes(r.exclusiveBytes)), h('td', { class: 'num' }, r.blobs)));
      shown = Math.min(s.repositories.length, shown + PAGE);
      more.textContent = `Show ${Math.min(PAGE, s.repositories.length - shown)} more (${shown} of ${s.repositories.length})`;
      more.hidden = shown >= s.repositories.length;
    };
    more.addEventListener('click', showMore);
    showMore();
    add(
      section,
      h('div', { class: 'stats' }, stat('Stored', bytes(s.storedBytes), 'stored'), stat('Referenced', bytes(s.referencedBytes)), stat('Saved by sharing', bytes(s.savedBySharing)), stat('Reclaimable', `${bytes(s.unreferencedBytes)} in ${s.unreferencedBlobs} blob${s.unreferencedBlobs === 1 ? '' : 's'}`, 'reclaimable')),
      h('p', { class: 'muted' }, `Reclaimable: blob data no manifest reaches, which the next garbage collection removes. Computed ${date(s.computedAt)} in ${s.durationMs} ms (kept for a minute).`),
      h(
        'table',
        null,
        h('caption', null, `Repositories, biggest first (${s.repositories.length})`),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Repository'), h('th', { scope: 'col' }, 'Bytes'), h('th', { scope: 'col' }, 'Only its own'), h('th', { scope: 'col' }, 'Blobs'))),
        rows,
      ),
      more,
    );
  } catch (err) {
    add(section, explain(err, ctx, "see the registry's storage (it needs access to the whole catalog)"));
  }
  return section;
}

/**
 * A link to the storage view for users who may read it: a HEAD of the view (answered after auth,
 * without computing it) decides; without access, nothing is shown (`data-storage` says which, for tests). Fills in when the answer comes.
 */
export function storageLink(ctx: ViewContext): HTMLElement {
  const slot = h('p', { class: 'storage-link' });
  ctx.api
    .request(STORAGE, { method: 'HEAD', signal: ctx.signal })
    .then(() => {
      slot.dataset.storage = 'allowed';
      slot.append(h('a', { href: ctx.href(paths.storage()), 'data-link': true }, 'Storage: what the registry holds and what a collection would reclaim'));
    })
    .catch(() => {
      slot.dataset.storage = 'denied';
      slot.hidden = true;
    });
  return slot;
}
