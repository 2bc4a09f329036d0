import { h } from '../dom';
import { bytes } from '../format';

export interface ChartLayer {
  index: number;
  compressedSize: number;
  /** Regular-file bytes the layer ships, and of those what a later layer made unreachable. */
  shippedBytes: number;
  hiddenBytes: number;
  createdBy?: string;
}

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 26;
const LABEL = 44;
const BAR = 360;
const WIDTH = 640;

/** An SVG element with presentation attributes only: the CSP allows no style attribute. */
function s(tag: string, attrs: Record<string, string | number>, ...children: Array<Node | string>): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function describe(l: ChartLayer): string {
  return `layer ${l.index}: ${bytes(l.shippedBytes)} of files (${bytes(l.compressedSize)} compressed)${l.hiddenBytes > 0 ? `, ${bytes(l.hiddenBytes)} of them wasted` : ''}`;
}

/**
 * A bar per layer: the bytes of files it ships, the part a later layer hid in the danger colour.
 * Readers get it three ways: the picture, a text alternative (title and desc), and the same figures
 * as a table below it.
 */
export function layerChart(layers: ChartLayer[]): HTMLElement {
  const max = Math.max(1, ...layers.map((l) => l.shippedBytes));
  const height = ROW * layers.length + 8;
  const rows = layers.map((l, i) => {
    const y = 4 + i * ROW;
    const shipped = Math.max(l.shippedBytes > 0 ? 1 : 0, Math.round((l.shippedBytes / max) * BAR));
    const wasted = l.hiddenBytes > 0 ? Math.max(1, Math.round((l.hiddenBytes / max) * BAR)) : 0;
    return s(
      'g',
      { class: 'chart-row' },
      s('title', {}, describe(l)),
      s('text', { x: LABEL - 8, y: y + 16, class: 'chart-label', 'text-anchor': 'end' }, `#${l.index}`),
      s('rect', { x: LABEL, y: y + 3, width: shipped - wasted, height: ROW - 8, class: 'bar-kept' }),
      wasted > 0 ? s('rect', { x: LABEL + shipped - wasted, y: y + 3, width: wasted, height: ROW - 8, class: 'bar-wasted' }) : '',
      s('text', { x: LABEL + shipped + 6, y: y + 16, class: 'chart-label' }, `${bytes(l.shippedBytes)}${l.hiddenBytes > 0 ? ` (${bytes(l.hiddenBytes)} wasted)` : ''}`),
    );
  });
  const svg = s(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${height}`, width: WIDTH, height, class: 'layer-chart', role: 'img', 'aria-labelledby': 'chart-title chart-desc' },
    s('title', { id: 'chart-title' }, 'Bytes of files per layer, the wasted part marked'),
    s('desc', { id: 'chart-desc' }, layers.map(describe).join('; ')),
    ...rows,
  );
  return h(
    'figure',
    { class: 'chart', 'data-testid': 'layer-chart' },
    svg as unknown as HTMLElement,
    h('figcaption', null, h('span', { class: 'key key-kept' }), ' files reachable in the image ', h('span', { class: 'key key-wasted' }), ' wasted: hidden by a later layer'),
    h(
      'details',
      null,
      h('summary', null, 'The chart as a table'),
      h(
        'table',
        null,
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Files'), h('th', { scope: 'col' }, 'Wasted'), h('th', { scope: 'col' }, 'Compressed'))),
        h('tbody', null, layers.map((l) => h('tr', null, h('td', { class: 'num' }, l.index), h('td', { class: 'num' }, bytes(l.shippedBytes)), h('td', { class: 'num' }, bytes(l.hiddenBytes)), h('td', { class: 'num' }, bytes(l.compressedSize))))),
      ),
    ),
  );
}
