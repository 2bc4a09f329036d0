import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

// The operator's script (docs/helm.md, "Building the image"): the suites assemble their bases with it,
// so the way the docs tell operators to build is the way every deploy suite builds.
// This file compiles to dist/test/helpers/, so the repository is three levels up.
export const BUILD_IMAGE_SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'build-image.mjs');

/**
 * The base images the Dockerfile builds FROM, assembled out of this machine's own files by
 * scripts/build-image.mjs --bases-only, because no public image can be pulled here: this node with
 * the libraries ldd lists (no shell, no package manager) for the runtime, and the same plus npm and
 * busybox for the build stages.
 */
export async function buildBaseImages(dockerd: Dockerd, prefix = 'berth-base'): Promise<BaseImages> {
  const started = Date.now();
  const { stdout } = await run(process.execPath, [BUILD_IMAGE_SCRIPT, '--bases-only', '--base-prefix', prefix], { env: { ...process.env, ...dockerd.env }, timeoutMs: 600_000 });
  const bases = JSON.parse(stdout) as { runtime: string; builder: string };
  return { ...bases, buildMs: Date.now() - started };
}

/** `root` as a one-layer image in `dockerd`, owned by root. */
async function importTree(dockerd: Dockerd, root: string, tag: string, changes: string[]): Promise<void> {
  const tarball = `${root}.tar`;
  await run(requireTool('tar'), ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarball, '.'], { timeoutMs: 120_000 });
  await dockerd.docker(['import', ...changes.flatMap((c) => ['--change', c]), tarball, tag], 300_000);
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
