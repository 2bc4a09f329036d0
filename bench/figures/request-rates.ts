import { HttpClient } from '../http-client';
import { MANIFEST_ACCEPT, seedImage } from '../oci';
import { pseudoRandom } from '../blob-data';
import { measureRate } from '../measure-rate';
import { requestBytes } from '../raw-client';
import { sizeLabel } from '../stats';
import type { FigureContext } from '../types';

export const RATE_CONCURRENCIES = [1, 16, 64];

/**
 * One URL each, over and over, on a server that owns its storage (so reads may be cached in the
 * process): manifest GET by tag and by digest, manifest HEAD by digest, blob HEAD and GET, at
 * concurrency 1, 16 and 64.
 */
export async function requestRateFigures(ctx: FigureContext): Promise<void> {
  const client = new HttpClient(ctx.target.base, 2);
  const repo = 'rates/app';
  const layerSize = 2048;
  const image = await seedImage(client, repo, 'latest', pseudoRandom(layerSize, 7));
  client.close();
  const host = ctx.target.host;
  const accept = { Accept: MANIFEST_ACCEPT };
  const kinds = [
    { name: 'manifest-get-tag', head: false, req: requestBytes('GET', `/v2/${repo}/manifests/latest`, host, accept) },
    { name: 'manifest-get-digest', head: false, req: requestBytes('GET', `/v2/${repo}/manifests/${image.digest}`, host, accept) },
    { name: 'manifest-head-digest', head: true, req: requestBytes('HEAD', `/v2/${repo}/manifests/${image.digest}`, host, accept) },
    { name: 'blob-head', head: true, req: requestBytes('HEAD', `/v2/${repo}/blobs/${image.layer.digest}`, host) },
    { name: `blob-get-${sizeLabel(layerSize)}`, head: false, req: requestBytes('GET', `/v2/${repo}/blobs/${image.layer.digest}`, host) },
  ];
  for (const kind of kinds) {
    for (const c of RATE_CONCURRENCIES) {
      await measureRate(ctx, `${kind.name}-c${c}`, { concurrency: c, head: kind.head, expectStatus: 200, request: () => kind.req });
    }
  }
}
