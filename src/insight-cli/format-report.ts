import type { CompleteImageReport, ManifestReport } from '../insight/report/report-types';
import type { StorageView } from '../insight/storage-view';

/** 1536 → "1.5 KiB": the powers of 1024 docker and dive show. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** One line of an instruction: BuildKit's `/bin/sh -c #(nop) ` and long commands are noise in a table. */
export function shortInstruction(createdBy: string | undefined, max = 60): string {
  if (createdBy === undefined) return '-';
  const line = createdBy.replace(/^\/bin\/sh -c (#\(nop\) )?/, '').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const padLeft = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

function imageLines(r: CompleteImageReport, indent: string): string[] {
  const lines = [
    `efficiency ${(r.efficiency * 100).toFixed(1)}%, wasted ${humanBytes(r.wastedBytes)} of ${humanBytes(r.shippedBytes)} shipped`,
    `${r.totals.layers} layers, ${humanBytes(r.totals.compressedBytes)} compressed, ${humanBytes(r.totals.uncompressedBytes)} uncompressed, ${r.totals.files} files`,
  ];
  if (r.offenders.length > 0) {
    lines.push('', 'biggest wasted files:');
    for (const o of r.offenders.slice(0, 10))
      lines.push(`  ${padLeft(humanBytes(o.size), 10)}  ${o.path}  (added by layer ${o.addedBy.index}: ${shortInstruction(o.addedBy.createdBy, 40)}; removed by layer ${o.hiddenBy.index}: ${shortInstruction(o.hiddenBy.createdBy, 40)})`);
  }
  lines.push('', `secrets (${r.secrets.mode}):${r.secrets.mode === 'off' ? ' not reported for this repository' : r.secrets.findings.length === 0 ? ' none found' : ''}`);
  for (const f of r.secrets.findings) lines.push(`  ${f.inConfig ? 'config' : `layer ${f.layer?.index}`}  ${f.path}  ${f.rule}  ${f.fingerprint}`);
  lines.push('', `${pad('layer', 6)}${padLeft('size', 11)}${padLeft('files', 8)}${padLeft('wasted', 11)}  created by`);
  for (const l of r.layers) {
    const outcome = l.outcome === 'analysed' ? '' : ` [${l.outcome}]`;
    lines.push(`${pad(String(l.index), 6)}${padLeft(humanBytes(l.compressedSize), 11)}${padLeft(String(l.files ?? '-'), 8)}${padLeft(humanBytes(l.hiddenBytes), 11)}  ${shortInstruction(l.createdBy)}${outcome}`);
  }
  lines.push(...pushLines(r));
  for (const note of r.notes) lines.push(`note: ${note}`);
  return lines.map((line) => (line === '' ? '' : indent + line));
}

/** What the push of the tag moved against its previous image, and the layer-order advice. */
function pushLines(r: CompleteImageReport): string[] {
  const push = r.push;
  if (push === undefined) return [];
  if (push.status === 'pending') return ['', `against the tag's previous image ${push.previous}: its analysis is pending`];
  const lines = [
    '',
    `against the tag's previous image ${push.previous}: ${humanBytes(push.reusedBytes)} reused, ${humanBytes(push.changedBytes)} changed, ${humanBytes(push.rebuiltBytes)} rebuilt with the same files`,
  ];
  for (const a of push.advice)
    lines.push(`  move layer ${a.move.index} (${shortInstruction(a.move.createdBy, 40)}) below layer ${a.below.index} (${shortInstruction(a.below.createdBy, 40)}): saves ${humanBytes(a.bytesPerPush)} per push and per pull`);
  return lines;
}

/** `berth insight --storage`: where the registry's bytes go. */
export function formatStorageView(v: StorageView): string {
  const lines = [
    `stored ${humanBytes(v.storedBytes)}; referenced ${humanBytes(v.referencedBytes)} (shared blobs once), saved by sharing ${humanBytes(v.savedBySharing)}`,
    `a garbage collection would reclaim ${humanBytes(v.unreferencedBytes)} (${v.unreferencedBlobs} blobs no manifest reaches)`,
    '',
    `${padLeft('bytes', 11)}${padLeft('only here', 11)}${padLeft('blobs', 8)}  repository`,
  ];
  for (const r of v.repositories) lines.push(`${padLeft(humanBytes(r.bytes), 11)}${padLeft(humanBytes(r.exclusiveBytes), 11)}${padLeft(String(r.blobs), 8)}  ${r.name}`);
  return lines.join('\n') + '\n';
}

/** The human summary `berth insight` prints. */
export function formatReport(r: ManifestReport): string {
  const head = `${r.repository}@${r.digest}`;
  if (r.status === 'not-an-image') return `${head}: not an image (${r.mediaType})\n`;
  if (r.status === 'pending' && !('manifests' in r)) return `${head}: analysis pending for ${r.pending.length} of ${r.layers} layers\n`;
  if ('manifests' in r) {
    const out = [`${head}: index of ${r.manifests.length} manifests`];
    for (const m of r.manifests) {
      const platform = m.platform ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/') : 'unknown platform';
      out.push('', `${platform} ${m.digest}: ${m.status}`);
      if (m.report?.status === 'complete') out.push(...imageLines(m.report, '  '));
    }
    return out.join('\n') + '\n';
  }
  return [head, ...imageLines(r, '')].join('\n') + '\n';
}

/** Whether any image of the report has a secret it reports. */
export function hasSecrets(r: ManifestReport): boolean {
  if ('manifests' in r) return r.manifests.some((m) => m.report !== undefined && hasSecrets(m.report));
  return r.status === 'complete' && r.secrets.findings.length > 0;
}
