import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from './oci-client';
import { layoutBlobs, layoutDigest, skopeo } from './tools';

export interface PulledBack {
  /** `repo:tag` → digest of the manifest skopeo stored */
  digests: Record<string, string>;
  /** every blob of the OCI layout skopeo wrote (manifests included) */
  layoutBlobs: string[];
}

/**
 * Pulls with skopeo from a registry into a fresh OCI layout (and a dir: copy for the Docker
 * schema 2 manifest, which an OCI layout would convert), so what a real client gets can be compared.
 */
export async function pullBackWithSkopeo(skopeoHome: string, registryUrl: string, outDir: string): Promise<PulledBack> {
  const host = new URL(registryUrl).host;
  await mkdir(outDir, { recursive: true });
  const layout = path.join(outDir, 'oci');
  const digests: Record<string, string> = {};
  const ociRefs: Array<[string, string, string[]]> = [
    ['alpha', 'v1', []],
    ['alpha', 'umoci', []],
    ['alpha', 'multi', ['--all']],
    ['team/app', 'multi', ['--all']],
  ];
  for (const [repo, tag, args] of ociRefs) {
    const name = `${repo.replace('/', '_')}_${tag}`;
    await skopeo(skopeoHome, ['copy', '--src-tls-verify=false', '--preserve-digests', ...args, `docker://${host}/${repo}:${tag}`, `oci:${layout}:${name}`]);
    digests[`${repo}:${tag}`] = await layoutDigest(layout, name);
  }
  const dir = path.join(outDir, 'v2s2');
  await skopeo(skopeoHome, ['copy', '--src-tls-verify=false', `docker://${host}/team/app:v2s2`, `dir:${dir}`]);
  digests['team/app:v2s2'] = sha256(await readFile(path.join(dir, 'manifest.json')));
  return { digests, layoutBlobs: await layoutBlobs(layout) };
}
