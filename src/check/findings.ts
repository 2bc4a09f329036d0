/**
 * What `berth check` can find, with what an operator should know about each: whether --repair
 * fixes it, and what to do otherwise.
 */
export const FINDING_KINDS = {
  'dangling-layer-link': 'a repository links a blob whose data is missing (repair removes the link; pushing the blob again restores it)',
  'dangling-revision-link': 'a repository lists a manifest whose bytes are missing (not repaired: pushing the manifest again by digest restores it)',
  'phantom-tag': 'a tag directory without a current link: listed, but GET and DELETE answer 404 (repair removes the directory)',
  'tag-missing-revision': 'a tag names a manifest the repository does not hold (repair removes the tag)',
  'manifest-missing-reference': 'a manifest whose blobs or child manifests are missing cannot be pulled (not repaired: push them again)',
  'unreadable-manifest': 'a manifest whose stored bytes do not parse (not repaired; --verify-digests tells whether the bytes are corrupt)',
  'invalid-link': 'a link file that does not hold a digest (not repaired)',
  'corrupt-blob': 'blob bytes that do not match their digest (repair deletes the data, so that clients push it again)',
  'temp-leftover': "the storage driver's crash leftover: a temp file or an orphaned multipart upload (repair removes those older than an hour), or a link a killed conditional delete set aside (repair puts it back)",
  'stray-insight': "a blob's analysis (image insight) left after the blob was deleted: harmless, never read unless the blob comes back (repair removes it once an hour old)",
  'upload-without-marker': 'an upload session without its startedat marker: it can never be continued nor purged (repair removes it once an hour old)',
} as const;

export type FindingKind = keyof typeof FINDING_KINDS;

export interface Finding {
  kind: FindingKind;
  /** The repository it belongs to; absent for blobs and leftovers, which are global. */
  repository?: string;
  /** The storage path (for leftovers, the driver's name for it). */
  path: string;
  detail: string;
  /** Set when repairing: whether this run fixed it. */
  repaired?: boolean;
  /** Why a repair run left it, when it did. */
  note?: string;
}

export interface CheckReport {
  repositories: number;
  /** Blobs whose bytes were hashed (with verifyDigests). */
  blobsVerified: number;
  repair: boolean;
  findings: Finding[];
  /** Findings per kind. */
  counts: Partial<Record<FindingKind, number>>;
  /** Findings still standing: all of them, or after a repair those it did not fix. */
  remaining: number;
}

/** How `fix` applies, given how recently the evidence changed. */
export interface Fix {
  /** ms since the epoch: the newest modification among the files the finding rests on. */
  touched: number;
  run: () => Promise<unknown>;
}

/**
 * Collects findings and, when repairing, applies their fixes. A fix whose evidence changed after
 * `settledBefore` is not applied: a push, tag or upload in progress passes through the same states
 * (a tag's directory exists a moment before its current link), and repairing it would break it.
 */
export class Findings {
  readonly list: Finding[] = [];

  constructor(
    private readonly repair: boolean,
    private readonly settledBefore: number,
  ) {}

  async add(finding: Finding, fix?: Fix): Promise<void> {
    this.list.push(finding);
    if (!this.repair) return;
    if (fix === undefined) {
      finding.repaired = false;
    } else if (fix.touched >= this.settledBefore) {
      finding.repaired = false;
      finding.note = 'changed too recently to repair safely (may be a write in progress); run check again later';
    } else {
      await fix.run();
      finding.repaired = true;
    }
  }

  report(repositories: number, blobsVerified: number): CheckReport {
    const counts: Partial<Record<FindingKind, number>> = {};
    for (const f of this.list) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
    const remaining = this.list.filter((f) => f.repaired !== true).length;
    return { repositories, blobsVerified, repair: this.repair, findings: this.list, counts, remaining };
  }
}

/** The human summary: a headline, counts per kind with what they mean, then one line per finding. */
export function formatReport(r: CheckReport): string {
  const lines: string[] = [];
  const verified = r.blobsVerified > 0 ? `, ${r.blobsVerified} blobs verified` : '';
  if (r.findings.length === 0) return `check: clean (${r.repositories} repositories${verified})\n`;
  const repaired = r.findings.length - r.remaining;
  lines.push(
    `check: ${r.findings.length} finding(s) in ${r.repositories} repositories${verified}` +
      (r.repair ? `; ${repaired} repaired, ${r.remaining} remaining` : ''),
  );
  for (const [kind, n] of Object.entries(r.counts)) lines.push(`  ${kind}: ${n} - ${FINDING_KINDS[kind as FindingKind]}`);
  lines.push('');
  for (const f of r.findings) {
    const state = f.repaired === undefined ? '' : f.repaired ? ' [repaired]' : ` [not repaired${f.note ? `: ${f.note}` : ''}]`;
    lines.push(`${f.kind} ${f.repository ?? '-'} ${f.path}: ${f.detail}${state}`);
  }
  return lines.join('\n') + '\n';
}
