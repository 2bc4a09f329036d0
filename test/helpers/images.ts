import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './exec';
import { requireTool } from './tools';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export function sha256(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** The Go/OCI name of the architecture this machine runs, so a pulled image can run here. */
export function hostArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[
    process.arch
  ] ?? process.arch;
}

/** An architecture this machine does not run: the other half of a two-platform index. */
export function foreignArch(): string {
  return hostArch() === 'arm64' ? 'amd64' : 'arm64';
}

/**
 * A build context whose image is `FROM scratch` plus a static busybox and prints `message` when run.
 * Nothing is fetched: busybox-static is the only input.
 */
export async function writeBuildContext(dir: string, message: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(requireTool('busybox'), path.join(dir, 'busybox'));
  await writeFile(
    path.join(dir, 'Dockerfile'),
    ['FROM scratch', 'COPY busybox /bin/busybox', `CMD ["/bin/busybox", "echo", ${JSON.stringify(message)}]`, ''].join('\n'),
  );
}

export interface LayoutManifest {
  digest: string;
  bytes: Buffer;
  json: { mediaType?: string; config?: { digest: string }; layers?: { digest: string }[]; manifests?: { digest: string }[] };
}

interface LayoutIndex {
  schemaVersion: 2;
  manifests: { mediaType?: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

export function layoutBlobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(layout, 'blobs', alg, hex);
}

/** The manifest (or index) an OCI layout holds under `tag`. */
export async function layoutManifest(layout: string, tag: string): Promise<LayoutManifest> {
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as LayoutIndex;
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!entry) throw new Error(`no ${tag} in ${layout}/index.json`);
  const bytes = await readFile(layoutBlobPath(layout, entry.digest));
  return { digest: entry.digest, bytes, json: JSON.parse(bytes.toString('utf8')) as LayoutManifest['json'] };
}

/**
 * Adds `tag` to an OCI layout with umoci: a one-layer image holding static busybox whose command
 * prints `message`. umoci writes manifests without a `mediaType` field, which registries must accept.
 */
export async function umociImage(layout: string, tag: string, opts: { message: string; arch?: string }): Promise<LayoutManifest> {
  const umoci = requireTool('umoci');
  const exists = await stat(path.join(layout, 'index.json')).then(
    () => true,
    () => false,
  );
  if (!exists) await run(umoci, ['init', '--layout', layout], { timeoutMs: 60_000 });
  const image = `${layout}:${tag}`;
  await run(umoci, ['new', '--image', image], { timeoutMs: 60_000 });
  await run(umoci, ['insert', '--image', image, requireTool('busybox'), '/bin/busybox'], { timeoutMs: 60_000 });
  await run(
    umoci,
    [
      'config', '--image', image,
      '--os', 'linux',
      '--architecture', opts.arch ?? hostArch(),
      '--config.cmd', '/bin/busybox', '--config.cmd', 'echo', '--config.cmd', opts.message,
    ],
    { timeoutMs: 60_000 },
  );
  return layoutManifest(layout, tag);
}

/**
 * Writes an OCI image index over existing tags of the layout (one platform each) and tags it `tag`.
 */
export async function layoutIndex(
  layout: string,
  tag: string,
  children: { tag: string; arch: string }[],
): Promise<LayoutManifest> {
  const manifests = [];
  for (const child of children) {
    const m = await layoutManifest(layout, child.tag);
    manifests.push({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.bytes.length, platform: { architecture: child.arch, os: 'linux' } });
  }
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  const digest = sha256(bytes);
  await writeFile(layoutBlobPath(layout, digest), bytes);
  const indexPath = path.join(layout, 'index.json');
  const index = JSON.parse(await readFile(indexPath, 'utf8')) as LayoutIndex;
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
  index.manifests.push({ mediaType: OCI_INDEX, digest, size: bytes.length, annotations: { [REF_NAME]: tag } });
  await writeFile(indexPath, JSON.stringify(index));
  return layoutManifest(layout, tag);
}
