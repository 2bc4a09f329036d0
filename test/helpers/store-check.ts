import assert from 'node:assert/strict';
import { createFilesystemDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { checkStore } from '../../src/check/check-store';
import type { Finding, FindingKind } from '../../src/check/findings';

/**
 * What a crash may leave of an operation it interrupted, none of it visible to clients: a link
 * written just before its data (it reads as absent), a temp file or directory, an upload session
 * whose marker was not yet written.
 */
const CRASH_RESIDUE: ReadonlySet<FindingKind> = new Set(['dangling-layer-link', 'dangling-revision-link', 'temp-leftover', 'upload-without-marker']);

/**
 * Never a client's concern: a blob's analysis left behind by a collection that raced it or was
 * killed between its two deletes (content-addressed, used again only if the blob comes back).
 */
const BENIGN: ReadonlySet<FindingKind> = new Set(['stray-insight']);

/** What a collection leaves by design, as Distribution's does: the links of the blobs it deleted. */
const COLLECTION_RESIDUE: ReadonlySet<FindingKind> = new Set(['dangling-layer-link']);

/**
 * The consistency check after a fault test (`berth check --verify-digests`): every listed tag
 * resolves, every manifest's blobs and children exist, every blob holds the bytes its digest names.
 * With `crashed`, the residue of interrupted operations is allowed; with `collected`, that of a
 * garbage collection.
 */
export async function assertStoreConsistent(store: StorageDriver | string, opts: { crashed?: boolean; collected?: boolean } = {}): Promise<void> {
  const driver = typeof store === 'string' ? createFilesystemDriver({ rootDirectory: store }) : store;
  const allowed = new Set<FindingKind>([...BENIGN, ...(opts.crashed ? CRASH_RESIDUE : []), ...(opts.collected ? COLLECTION_RESIDUE : [])]);
  // The analysis goes on in the background after a test's last request: its claims and lists are
  // written through temp files (under /berth/insight, or a new directory's staged tree beside it),
  // which a check may see in passing. A temp file that is gone a moment later was a write in
  // progress, not a leftover: only those still there after a few looks count.
  const analysing = (f: { kind: FindingKind; path: string }) => f.kind === 'temp-leftover' && f.path.startsWith('/berth/insight/');
  let broken: Finding[] = [];
  for (let look = 0; look < 6; look++) {
    if (look > 0) await new Promise((r) => setTimeout(r, 250));
    const report = await checkStore(driver, { verifyDigests: true });
    broken = report.findings.filter((f) => !allowed.has(f.kind) && !analysing(f));
    if (!broken.every((f) => f.kind === 'temp-leftover')) break;
    if (broken.length === 0) return;
  }
  assert.deepEqual(broken, [], `the store is inconsistent:\n${broken.map((f) => `${f.kind} ${f.repository ?? ''} ${f.path}: ${f.detail}`).join('\n')}`);
}
