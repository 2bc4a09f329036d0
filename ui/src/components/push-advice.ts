import { h } from '../dom';
import { bytes, shortDigest } from '../format';

interface Step {
  index: number;
  createdBy?: string;
}
export interface PushInfo {
  previous: string;
  status: 'complete' | 'pending';
  layers?: Array<{ index: number; size: number; kind: 'reused' | 'changed' | 'rebuilt-identical'; createdBy?: string }>;
  reusedBytes?: number;
  changedBytes?: number;
  rebuiltBytes?: number;
  advice?: Array<{ move: Step; below: Step; bytesPerPush: number; bytesPerPull: number }>;
}

const KIND: Record<string, string> = { reused: 'reused', changed: 'changed', 'rebuilt-identical': 'rebuilt, same files' };

const layerName = (step: Step) => `layer ${step.index}${step.createdBy ? ` (${step.createdBy})` : ''}`;

/** What this push of the tag moved against the image the tag named before, and layer-order advice. */
export function pushSection(push: PushInfo | undefined, byDigest: boolean): HTMLElement {
  const section = (...body: Array<HTMLElement | string>) => h('section', { 'aria-labelledby': 'push-title', 'data-testid': 'push' }, h('h2', { id: 'push-title' }, 'Layer order'), ...body);
  if (byDigest) return section(h('p', { class: 'muted' }, 'Asked by digest: open the insight by tag to compare with the image the tag named before.'));
  if (push === undefined) return section(h('p', { class: 'muted' }, 'No earlier push to compare with: the tag named no other image before (or that image is gone).'));
  if (push.status === 'pending') return section(h('p', { class: 'notice' }, `The image the tag named before (${shortDigest(push.previous)}) is still being analysed.`));
  const advice = push.advice ?? [];
  return section(
    h('p', null, `Compared with the previous push (`, h('code', { title: push.previous }, shortDigest(push.previous)), `): ${bytes(push.reusedBytes)} reused, ${bytes(push.changedBytes)} changed, ${bytes(push.rebuiltBytes)} rebuilt with the very same files.`),
    advice.length === 0
      ? h('p', null, 'No layer was rebuilt with the same files: the order is fine.')
      : h('ul', { class: 'advice' }, advice.map((a) => h('li', null, h('strong', null, `Move ${layerName(a.move)} below ${layerName(a.below)}`), `: saves ${bytes(a.bytesPerPush)} per push and ${bytes(a.bytesPerPull)} per pull.`))),
    h(
      'table',
      null,
      h('caption', null, 'What each layer of this push was'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'This push'), h('th', { scope: 'col' }, 'Made by'))),
      h('tbody', null, (push.layers ?? []).map((l) => h('tr', null, h('td', { class: 'num' }, l.index), h('td', { class: 'num' }, bytes(l.size)), h('td', null, h('span', { class: `badge kind-${l.kind}` }, KIND[l.kind] ?? l.kind)), h('td', null, l.createdBy ? h('code', { class: 'created-by' }, l.createdBy) : '')))),
    ),
  );
}
