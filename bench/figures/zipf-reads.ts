import { measureRate } from '../measure-rate';
import { MANIFEST_ACCEPT } from '../oci';
import { requestBytes } from '../raw-client';
import { sizeLabel } from '../stats';
import type { FigureContext } from '../types';
import { zipfSequence } from '../zipf';
import { RATE_CONCURRENCIES } from './request-rates';
import { WORKING_SET_BLOB_SIZE, type WorkingSet } from './working-set';

/** Zipf's exponent: about what registry and CDN traces show for image popularity. */
export const ZIPF_S = 1.0;
/** Seeds of the two sequences (manifests, blobs): the same for both registries and every round. */
const MANIFEST_SEED = 15;
const BLOB_SEED = 16;
/** Requests drawn ahead; request i takes entry i mod this (more than a window's requests here). */
const SEQUENCE_LENGTH = 1 << 18;

/**
 * GET of a manifest by tag and by digest, HEAD and GET of a small blob, at concurrency 1, 16 and 64,
 * each request naming the next item of a Zipf sequence over the working set. Figure names are those of
 * the single-URL `rates` group; the caller's `emit` prefixes them with the mode.
 */
export async function zipfReadFigures(ctx: FigureContext, set: WorkingSet): Promise<void> {
  const host = ctx.target.host;
  const accept = { Accept: MANIFEST_ACCEPT };
  const manifestSeq = zipfSequence({ items: set.manifests.length, s: ZIPF_S, length: SEQUENCE_LENGTH, seed: MANIFEST_SEED });
  const blobSeq = zipfSequence({ items: set.blobs.length, s: ZIPF_S, length: SEQUENCE_LENGTH, seed: BLOB_SEED });
  const byTag = set.manifests.map((m) => requestBytes('GET', `/v2/${m.repo}/manifests/${m.tag}`, host, accept));
  const byDigest = set.manifests.map((m) => requestBytes('GET', `/v2/${m.repo}/manifests/${m.digest}`, host, accept));
  const blobHead = set.blobs.map((b) => requestBytes('HEAD', `/v2/${b.repo}/blobs/${b.digest}`, host));
  const blobGet = set.blobs.map((b) => requestBytes('GET', `/v2/${b.repo}/blobs/${b.digest}`, host));
  const mask = SEQUENCE_LENGTH - 1;
  const kinds = [
    { name: 'manifest-get-tag', head: false, reqs: byTag, seq: manifestSeq },
    { name: 'manifest-get-digest', head: false, reqs: byDigest, seq: manifestSeq },
    { name: 'blob-head', head: true, reqs: blobHead, seq: blobSeq },
    { name: `blob-get-${sizeLabel(WORKING_SET_BLOB_SIZE)}`, head: false, reqs: blobGet, seq: blobSeq },
  ];
  for (const kind of kinds) {
    for (const c of RATE_CONCURRENCIES) {
      await measureRate(ctx, `${kind.name}-c${c}`, { concurrency: c, head: kind.head, expectStatus: 200, request: (i) => kind.reqs[kind.seq[i & mask]] });
    }
  }
}
