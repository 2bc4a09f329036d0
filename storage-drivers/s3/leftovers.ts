import { isValidComponent } from '../paths';
import type { FileInfo } from '../types';
import { isMissing, type S3Context } from './context';
import { uploadsAt } from './listing';
import { abortUpload, listParts } from './multipart';
import { headUploadState } from './upload-state';

/**
 * Multipart uploads below the driver's root that nothing will complete or abort: started by a
 * writer or a multipart copy that died before it recorded (or finished) them. S3 keeps their parts,
 * and bills for them, forever. An upload that an upload object records belongs to an uncommitted
 * writer and is left to whoever deletes that path (upload purging). An upload counts as touched
 * when its newest part was stored, so a single long writer session that has not recorded its upload
 * yet keeps it for as long as parts keep arriving. Reported as `<path>#<uploadId>`, sized by its parts.
 */
export async function purgeOrphanUploads(ctx: S3Context, olderThan: Date, dryRun: boolean): Promise<FileInfo[]> {
  const found: FileInfo[] = [];
  const root = ctx.options.rootPrefix;
  for (const u of await uploadsAt(ctx, root)) {
    if (u.initiated >= olderThan) continue;
    const rel = u.key.slice(root.length);
    // Never touch what the driver could not have written (other users of the bucket).
    if (!rel.split('/').every(isValidComponent)) continue;
    const path = `/${rel}`;
    if ((await headUploadState(ctx, path))?.uploadId === u.uploadId) continue;
    let parts;
    try {
      parts = await listParts(ctx, u.key, u.uploadId, Infinity);
    } catch (err) {
      if (isMissing(err)) continue; // completed or aborted meanwhile
      throw err;
    }
    let touched = u.initiated;
    for (const p of parts) if (p.LastModified !== undefined && p.LastModified > touched) touched = p.LastModified;
    if (touched >= olderThan) continue;
    found.push({ path: `${path}#${u.uploadId}`, size: parts.reduce((sum, p) => sum + p.Size, 0), modTime: touched, isDir: false });
    if (!dryRun) await abortUpload(ctx, u.key, u.uploadId);
  }
  return found;
}
