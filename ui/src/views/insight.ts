import type { ViewContext } from '../context';
import { h, facts } from '../dom';
import { bytes, percent, shortDigest } from '../format';
import { explain } from '../components/errors';
import { paths } from '../routes';
import { layerChart } from '../components/layer-chart';
import { pushSection, type PushInfo } from '../components/push-advice';
import { treeSection } from '../components/tree-section';

/** The parts of Berth's insight report the view shows (docs/architecture.md, "Image insight: the report"). */
interface Finding {
  path: string;
  rule: string;
  fingerprint: string;
  layer?: { index: number; digest: string };
  inConfig?: boolean;
}
interface Offender {
  path: string;
  size: number;
  addedBy: { index: number; createdBy?: string };
  hiddenBy: { index: number; createdBy?: string };
}
interface Report {
  status: 'complete' | 'pending' | 'not-an-image';
  digest: string;
  efficiency?: number;
  shippedBytes?: number;
  wastedBytes?: number;
  totals?: { layers: number; compressedBytes: number; uncompressedBytes: number; files: number };
  layers?: Array<{ index: number; digest: string; compressedSize: number; createdBy?: string; shippedBytes: number; hiddenBytes: number; outcome: string }> | number;
  offenders?: Offender[];
  notes?: string[];
  secrets?: { mode: string; findings: Finding[] };
  manifests?: Array<{ digest: string; platform?: { os?: string; architecture?: string; variant?: string }; status: string }>;
  push?: PushInfo;
}

/** What the view was asked to show beyond the report: the file tree's layer and directory. */
export interface TreeLink {
  layer: string;
  dir: string;
}

const MAX_OFFENDERS = 10;
const POLL_MS = 2000;

function offendersTable(offenders: Offender[]): HTMLElement {
  if (offenders.length === 0) return h('p', { class: 'muted' }, 'No file is shipped only to be hidden by a later layer.');
  return h(
    'table',
    null,
    h('caption', null, `Biggest offenders (${Math.min(offenders.length, MAX_OFFENDERS)} of ${offenders.length})`),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Path'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'Added by'), h('th', { scope: 'col' }, 'Hidden by'))),
    h(
      'tbody',
      null,
      offenders.slice(0, MAX_OFFENDERS).map((o) =>
        h('tr', null, h('td', null, h('code', null, o.path)), h('td', { class: 'num' }, bytes(o.size)), h('td', null, `layer ${o.addedBy.index}: `, h('code', { class: 'created-by' }, o.addedBy.createdBy ?? '?')), h('td', null, `layer ${o.hiddenBy.index}: `, h('code', { class: 'created-by' }, o.hiddenBy.createdBy ?? '?'))),
      ),
    ),
  );
}

function secretsSection(secrets: NonNullable<Report['secrets']>): HTMLElement {
  const { findings, mode } = secrets;
  return h(
    'section',
    { 'aria-labelledby': 'secrets-title' },
    h('h2', { id: 'secrets-title' }, `Secrets (${findings.length})`),
    h('p', { class: 'muted' }, `Policy for this repository: ${mode}. Findings name the file and the rule, never the secret.`),
    findings.length === 0
      ? h('p', null, 'No secret found.')
      : h(
          'table',
          { class: 'findings' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Where'), h('th', { scope: 'col' }, 'Rule'), h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Fingerprint'))),
          h(
            'tbody',
            null,
            findings.map((f) =>
              h('tr', null, h('td', null, h('code', null, f.path)), h('td', null, h('span', { class: 'badge warn' }, f.rule)), h('td', null, f.inConfig ? 'image config' : f.layer ? [`${f.layer.index} `, h('code', { title: f.layer.digest }, shortDigest(f.layer.digest))] : '?'), h('td', null, h('code', { class: 'fingerprint' }, f.fingerprint))),
            ),
          ),
        ),
  );
}

function complete(ctx: ViewContext, name: string, reference: string, r: Report, tree: TreeLink): HTMLElement[] {
  const layers = Array.isArray(r.layers) ? r.layers : [];
  return [
    h(
      'div',
      { class: 'stats' },
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, 'Efficiency'), h('span', { class: 'stat-value' }, percent(r.efficiency ?? 1))),
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, 'Wasted bytes'), h('span', { class: 'stat-value', 'data-testid': 'wasted' }, bytes(r.wastedBytes))),
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, 'Shipped'), h('span', { class: 'stat-value' }, bytes(r.shippedBytes))),
      h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, 'Files'), h('span', { class: 'stat-value' }, r.totals?.files ?? '—')),
    ),
    h('section', { 'aria-labelledby': 'chart-heading' }, h('h2', { id: 'chart-heading' }, 'Layer sizes'), layerChart(layers)),
    pushSection(r.push, reference.includes(':')),
    h('section', { 'aria-labelledby': 'waste-title' }, h('h2', { id: 'waste-title' }, 'Wasted space'), offendersTable(r.offenders ?? [])),
    secretsSection(r.secrets ?? { mode: 'off', findings: [] }),
    h(
      'section',
      { 'aria-labelledby': 'ilayers-title' },
      h('h2', { id: 'ilayers-title' }, 'Layers'),
      h(
        'table',
        { class: 'layers' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Compressed'), h('th', { scope: 'col' }, 'Files shipped'), h('th', { scope: 'col' }, 'Hidden later'), h('th', { scope: 'col' }, 'Made by'))),
        h('tbody', null, layers.map((l) => h('tr', null, h('td', { class: 'num' }, l.index), h('td', { class: 'num' }, bytes(l.compressedSize)), h('td', { class: 'num' }, bytes(l.shippedBytes)), h('td', { class: 'num' }, bytes(l.hiddenBytes)), h('td', null, l.createdBy ? h('code', { class: 'created-by' }, l.createdBy) : h('span', { class: 'muted' }, l.outcome))))),
      ),
    ),
    treeSection(ctx, name, reference, layers, tree),
    (r.notes ?? []).length ? h('section', null, h('h2', null, 'Notes'), h('ul', null, (r.notes ?? []).map((n) => h('li', null, n)))) : h('span'),
  ];
}

/** Berth's insight report for an image: efficiency, layer sizes and order, wasted bytes and their offenders, secrets by layer, file trees. */
export async function insightView(ctx: ViewContext, name: string, reference: string, tree: TreeLink = { layer: '', dir: '' }): Promise<HTMLElement> {
  const body = h('div', { 'aria-live': 'polite' });
  const section = h(
    'section',
    { 'aria-labelledby': 'insight-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: ctx.href(paths.repositories()), 'data-link': true }, 'Repositories'), ' / ', h('a', { href: ctx.href(paths.tags(name)), 'data-link': true }, name), ' / ', h('a', { href: ctx.href(paths.image(name, reference)), 'data-link': true }, reference.includes(':') ? shortDigest(reference) : reference), ' / '),
    h('h1', { id: 'insight-title' }, `Insight: ${name}${reference.includes(':') ? '@' : ':'}${reference.includes(':') ? shortDigest(reference) : reference}`),
    body,
  );
  const load = async (): Promise<void> => {
    try {
      const { body: r } = await ctx.api.json<Report>(`/v2/${name}/_berth/insight/${reference}`, { signal: ctx.signal });
      if (r.status === 'pending' && !r.manifests) {
        body.replaceChildren(h('p', { class: 'notice' }, 'The layers are still being analysed; this page updates by itself.'));
        setTimeout(() => void (ctx.signal.aborted ? undefined : load()), POLL_MS);
        return;
      }
      if (r.manifests) {
        body.replaceChildren(
          h('p', null, 'An index: each platform has its own report.'),
          h('ul', null, r.manifests.map((c) => h('li', null, h('a', { href: ctx.href(paths.insight(name, c.digest)), 'data-link': true }, [c.platform?.os, c.platform?.architecture, c.platform?.variant].filter(Boolean).join('/') || shortDigest(c.digest)), ` (${c.status})`))),
        );
        return;
      }
      if (r.status === 'not-an-image') {
        body.replaceChildren(h('p', null, 'This manifest is not an image (an artifact): there is nothing to analyse.'));
        return;
      }
      body.replaceChildren(facts([['Digest', h('code', null, r.digest)]]), ...complete(ctx, name, reference, r, tree));
    } catch (err) {
      if (!ctx.signal.aborted) body.replaceChildren(explain(err, ctx, `read the insight of ${name}:${reference}`));
    }
  };
  await load();
  return section;
}
