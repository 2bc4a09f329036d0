import type { BlobCache } from '../blob-data';
import { HttpClient } from '../http-client';
import { CONFIG_BYTES, manifestBytes, pushBytes, pushMonolithic, putManifest } from '../oci';
import { sizeLabel } from '../stats';
import type { FigureContext } from '../types';

/** N clients at once, each pushing its layers one after another, then a config and a manifest. */
export async function concurrentPushFigures(ctx: FigureContext, blobs: BlobCache): Promise<void> {
  const { target, cfg } = ctx;
  const layers = Array.from({ length: cfg.pushClients }, (_, c) =>
    Array.from({ length: cfg.pushLayers }, (_, l) => blobs.get(`push32-${c}-${l}`, cfg.pushLayerSize)),
  );
  const client = new HttpClient(target.base, cfg.pushClients);
  try {
    const t0 = performance.now();
    await Promise.all(
      layers.map(async (mine, c) => {
        const repo = `push/client${c}`;
        for (const layer of mine) await pushMonolithic(client, repo, layer);
        const config = await pushBytes(client, repo, CONFIG_BYTES);
        await putManifest(client, repo, 'v1', manifestBytes(config, mine));
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    ctx.emit({ name: `push-${cfg.pushClients}x${cfg.pushLayers}x${sizeLabel(cfg.pushLayerSize)}-wall`, value: seconds, unit: 's', better: 'lower' });
  } finally {
    client.close();
  }
}
