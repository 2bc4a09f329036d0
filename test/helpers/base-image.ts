import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dockerd } from './dockerd';
import { removeTree } from './daemon';
import { run } from './exec';
import { requireTool } from './tools';
import { freePort } from './ports';
export { freePort };

export interface BaseImages {
  /** Shell-less runtime base: node, the libraries it links, CA certificates, a `node` user (1000). */
  runtime: string;
  /** Build base: the runtime plus npm and a busybox shell, for `npm ci` and `tsc`. */
  builder: string;
  /** How long assembling and importing both took. */
  buildMs: number;
}

// Busybox applets that npm's lifecycle scripts and the Dockerfile's RUN lines may call.
const APPLETS = ['sh', 'env', 'mkdir', 'cp', 'rm', 'ls', 'cat', 'chmod', 'chown', 'test', 'true', 'ln', 'mv', 'find', 'grep', 'sed', 'uname', 'printf', 'xargs'];

async function copyInto(root: string, file: string): Promise<void> {
  const dest = path.join(root, file);
  await mkdir(path.dirname(dest), { recursive: true });
  await copyFile(await realpath(file), dest);
}

/** The shared libraries `ldd` lists for `binary`, the dynamic loader included. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run(requireTool('ldd'), [binary], { timeoutMs: 10_000 });
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

async function runtimeTree(root: string, node: string): Promise<void> {
  const nodeDest = path.join(root, 'usr/local/bin/node');
  await mkdir(path.dirname(nodeDest), { recursive: true });
  await copyFile(await realpath(node), nodeDest);
  await chmod(nodeDest, 0o755);
  for (const lib of await sharedLibraries(node)) await copyInto(root, lib);
  await copyInto(root, '/etc/ssl/certs/ca-certificates.crt');
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n');
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  await mkdir(path.join(root, 'tmp'));
  await chmod(path.join(root, 'tmp'), 0o1777);
  await mkdir(path.join(root, 'home/node'), { recursive: true });
}

async function builderTree(root: string, node: string): Promise<void> {
  await runtimeTree(root, node);
  const busybox = requireTool('busybox');
  await mkdir(path.join(root, 'bin'), { recursive: true });
  await copyFile(await realpath(busybox), path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) await symlink('busybox', path.join(root, 'bin', applet));
  await mkdir(path.join(root, 'usr/bin'), { recursive: true });
  await symlink('/bin/env', path.join(root, 'usr/bin/env'));
  // npm ships beside the host's node; its bin entries are relative symlinks into that directory.
  const npmLink = requireTool('npm');
  const npmCli = path.resolve(path.dirname(npmLink), await readlink(npmLink));
  const npmDir = path.resolve(path.dirname(npmCli), '..');
  await mkdir(path.join(root, 'usr/local/lib/node_modules'), { recursive: true });
  await run(requireTool('cp'), ['-a', npmDir, path.join(root, 'usr/local/lib/node_modules/npm')], { timeoutMs: 60_000 });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr/local/bin/npx'));
}

async function importTree(dockerd: Dockerd, root: string, tag: string, changes: string[]): Promise<void> {
  const tarball = `${root}.tar`;
  await run(requireTool('tar'), ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarball, '.'], { timeoutMs: 120_000 });
  await dockerd.docker(['import', ...changes.flatMap((c) => ['--change', c]), tarball, tag], 300_000);
}

/**
 * Assembles the base images the Dockerfile builds FROM, out of this machine's own files, because
 * no public image can be pulled here: the host's node binary with the libraries ldd lists (no
 * shell, no package manager) for the runtime, and the same plus npm and busybox for the build
 * stages. The builder trusts the host's CA bundle so that `npm ci` works behind the same TLS
 * setup as the host; it never reaches the final image.
 */
export async function buildBaseImages(dockerd: Dockerd, prefix = 'berth-base'): Promise<BaseImages> {
  const started = Date.now();
  const node = await realpath(process.execPath);
  const dir = await mkdtemp('/tmp/berth-base-');
  const runtime = `${prefix}:local`;
  const builder = `${prefix}-builder:local`;
  try {
    const env = 'ENV PATH=/usr/local/bin:/usr/bin:/bin';
    await runtimeTree(path.join(dir, 'runtime'), node);
    await importTree(dockerd, path.join(dir, 'runtime'), runtime, [env]);
    await builderTree(path.join(dir, 'builder'), node);
    await importTree(dockerd, path.join(dir, 'builder'), builder, [env, 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt']);
  } finally {
    await removeTree(dir);
  }
  return { runtime, builder, buildMs: Date.now() - started };
}

/** The first Debian mirror apt is configured with, read at run time (deb822 or one-line sources). */
export async function debianMirror(): Promise<string> {
  const files = ['/etc/apt/sources.list', ...(await readdir('/etc/apt/sources.list.d').catch(() => [] as string[])).map((f) => `/etc/apt/sources.list.d/${f}`)];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const m = /^URIs:\s*(\S+)/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/m.exec(text);
    if (m && !m[1].includes('security')) return m[1];
  }
  throw new Error('no Debian mirror found in /etc/apt/sources.list*');
}

/** Debian bookworm's minimal base system (debootstrap --variant=minbase) in `root`, apt's cache emptied. */
export async function debootstrapBookworm(root: string): Promise<void> {
  await run(requireTool('debootstrap'), ['--variant=minbase', 'bookworm', root, await debianMirror()], { timeoutMs: 600_000 });
  await rm(path.join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(path.join(root, 'var/cache/apt/archives/partial'), { recursive: true });
}

/**
 * A minimal Debian bookworm image (debootstrap --variant=minbase, about a minute), for Dockerfiles
 * that install Debian packages (the compose profile's nginx and Ceph RGW): the stand-in for
 * debian:bookworm-slim, which cannot be pulled here. Its apt sources name the host's mirror.
 */
export async function buildDebianBase(dockerd: Dockerd, tag = 'berth-debian:local'): Promise<{ tag: string; buildMs: number }> {
  const started = Date.now();
  const dir = await mkdtemp('/tmp/berth-debian-');
  try {
    const root = path.join(dir, 'rootfs');
    await debootstrapBookworm(root);
    await importTree(dockerd, root, tag, ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  } finally {
    await removeTree(dir);
  }
  return { tag, buildMs: Date.now() - started };
}

/** What the Dockerfile's build context holds (mirrors .dockerignore's allow-list). */
export const CONTEXT_ENTRIES = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'src', 'storage-drivers', 'auth'];

/**
 * Copies the repository's build context into a fresh temp dir, so a test can change a source file
 * without touching the working tree. Returns the directory; the caller removes it.
 */
export async function copyBuildContext(repoRoot: string): Promise<string> {
  const dir = await mkdtemp('/tmp/berth-context-');
  const entries = CONTEXT_ENTRIES.map((e) => path.join(repoRoot, e));
  await run(requireTool('cp'), ['-a', ...entries, dir], { timeoutMs: 60_000 });
  return dir;
}

/**
 * `docker build` of the Dockerfile in `context`, on the given bases or, with none, on the
 * Dockerfile's defaults, with any further build arguments; resolves to the build output.
 */
export async function buildBerthImage(dockerd: Dockerd, context: string, bases: BaseImages | undefined, tag: string, buildArgs: Record<string, string> = {}): Promise<string> {
  const args = { ...(bases && { BUILD_IMAGE: bases.builder, BASE_IMAGE: bases.runtime }), ...buildArgs };
  return dockerd.docker(
    [
      'build',
      // npm ci in the build stages reaches the package registry the same way the host does.
      '--network', 'host',
      ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      '-t', tag,
      context,
    ],
    // A guard against a hung build, not a bound on its speed: with the deploy suites beside the
    // rest (scripts/run-tests.mjs) a build shares the cores for its whole length, and on a machine
    // loaded further the default-base build passed 15 min. The suites' own timeouts still apply.
    1_500_000,
  );
}


/** Polls `url` until it answers `status`; on timeout the error carries `why()` (e.g. container logs). */
export async function waitForStatus(url: string, status: number, timeoutMs: number, why: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch((e: Error) => e);
    if (!(res instanceof Error) && res.status === status) return;
    last = res instanceof Error ? res.message : `status ${res.status}`;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (${last})\n${await why()}`);
}

export interface ContainerHealth {
  Status: string;
  Log: { ExitCode: number; Output: string }[];
}

/** Polls a container's HEALTHCHECK status until it is `healthy`; throws with the check's log if it turns unhealthy or time runs out. */
export async function waitForHealthy(dockerd: Dockerd, container: string, timeoutMs: number): Promise<ContainerHealth> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = JSON.parse(await dockerd.docker(['inspect', '-f', '{{json .State.Health}}', container])) as ContainerHealth | null;
    if (health?.Status === 'healthy') return health;
    if (health?.Status === 'unhealthy' || Date.now() > deadline) {
      // A container that stopped is unhealthy with an empty log: its own output and exit say why.
      const state = await dockerd.docker(['inspect', '-f', '{{json .State}}', container]).catch((e: Error) => e.message);
      const logs = await dockerd.docker(['logs', '--tail', '50', container]).catch((e: Error) => e.message);
      throw new Error(`${container} is ${health?.Status ?? 'without a health check'} after ${timeoutMs} ms: ${JSON.stringify(health?.Log ?? [])}\nstate: ${state}\nlogs:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/**
 * Builds a one-layer image with unique content as `ref`, pushes it, deletes it locally and pulls it
 * back; resolves to the pull's output after checking that the pulled image is the pushed one.
 */
export async function pushAndPullSmokeImage(dockerd: Dockerd, ref: string): Promise<string> {
  const dir = await mkdtemp('/tmp/berth-smoke-');
  try {
    await writeFile(path.join(dir, 'hello.txt'), `pushed at ${Date.now()} ${Math.random()}\n`);
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    await dockerd.docker(['build', '-t', ref, dir]);
  } finally {
    await removeTree(dir);
  }
  await dockerd.docker(['push', ref], 300_000);
  const pushedId = (await dockerd.docker(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
  await dockerd.docker(['rmi', ref]);
  const pull = await dockerd.docker(['pull', ref], 300_000);
  if (!/Pull complete/.test(pull)) throw new Error(`docker pull fetched no layer:\n${pull}`);
  const pulledId = (await dockerd.docker(['image', 'inspect', '-f', '{{.Id}}', ref])).trim();
  if (pulledId !== pushedId) throw new Error(`pulled ${pulledId}, pushed ${pushedId}`);
  return pull;
}
