import type { GcReport } from '../oci/gc';
import { humanBytes } from '../insight-cli/format-report';

/** 3_600_000 → "1h", 90_000 → "1m30s": as --grace is written. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: Array<[string, number]> = [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let rest = ms;
  let out = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Why a collection deleted nothing, from what its report knows. */
function nothingCollected(r: GcReport, graceMs: number, deleteUntagged: boolean): string {
  if (r.young.blobs > 0)
    return `nothing to collect: ${plural(r.young.blobs, 'unreferenced blob')} (${humanBytes(r.young.bytes)}) ${r.young.blobs === 1 ? 'is' : 'are'} younger than the ${formatDuration(graceMs)} grace period, which spares what a push in progress may need (--grace sets it)`;
  const untagged = deleteUntagged ? '' : '; manifests no tag reaches are kept (--delete-untagged deletes them)';
  return `nothing to collect: every blob is referenced${untagged}`;
}

/**
 * What `berth gc` prints without --json: what was marked, then what was deleted (or would be, in a
 * dry run) one per line, or why nothing was.
 */
export function formatGcSummary(r: GcReport, opts: { graceMs: number; deleteUntagged: boolean }): string {
  const lines = [
    `gc${r.dryRun ? ' (dry run)' : ''}: ${plural(r.repositories, 'repository', 'repositories')}, ${plural(r.manifestsMarked, 'manifest')}, ${plural(r.blobsMarked, 'blob')} marked`,
  ];
  const verb = r.dryRun ? 'would delete' : 'deleted';
  if (r.blobs.length + r.manifests.length === 0) lines.push(nothingCollected(r, opts.graceMs, opts.deleteUntagged));
  else {
    const manifests = r.manifests.length > 0 ? ` and ${plural(r.manifests.length, 'manifest')}` : '';
    lines.push(`${verb} ${plural(r.blobs.length, 'blob')} (${humanBytes(r.bytes)})${manifests}:`);
    const evicted = new Set(r.evicted);
    for (const m of r.manifests) lines.push(`  manifest ${m}${evicted.has(m) ? ' (evicted from the mirror cache)' : ''}`);
    for (const b of r.blobs) lines.push(`  blob ${b.digest} ${humanBytes(b.size)}`);
    if (r.young.blobs > 0) lines.push(`kept ${plural(r.young.blobs, 'unreferenced blob')} (${humanBytes(r.young.bytes)}) younger than the ${formatDuration(opts.graceMs)} grace period`);
  }
  if (r.rescued > 0) lines.push(`kept ${r.rescued} that a push made reachable again while the collection ran`);
  if (r.leftovers > 0) lines.push(`${r.dryRun ? 'would remove' : 'removed'} ${plural(r.leftovers, 'crash leftover')} (${humanBytes(r.leftoverBytes)}): temp files or multipart uploads a killed process left`);
  return lines.join('\n') + '\n';
}
