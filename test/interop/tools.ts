import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SKOPEO = '/usr/bin/skopeo';
export const UMOCI = '/usr/bin/umoci';

/** Why the skopeo/umoci parts cannot run here; in CI a missing tool is an error. */
export async function toolsSkipReason(): Promise<string | undefined> {
  for (const tool of [SKOPEO, UMOCI]) {
    try {
      await access(tool);
    } catch {
      const reason = `${tool} is not installed (Debian packages skopeo and umoci)`;
      if (process.env.CI) throw new Error(`${reason}; CI must install it`);
      return reason;
    }
  }
  return undefined;
}

async function sh(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run(file, args, { env: env ?? process.env, timeout: 120000, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; stdout?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`, { cause: e });
  }
}

/**
 * skopeo with its own HOME, so its blob-info cache and policy come from the test, not the machine.
 * `home` must hold .config/containers/policy.json (see makeSkopeoHome).
 */
export async function skopeo(home: string, args: string[]): Promise<string> {
  return sh(SKOPEO, ['--policy', path.join(home, 'policy.json'), ...args], {
    PATH: process.env.PATH,
    HOME: home,
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
  });
}

export async function makeSkopeoHome(dir: string): Promise<string> {
  await mkdir(path.join(dir, 'run'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return dir;
}

interface LayoutIndex {
  schemaVersion: 2;
  manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
}

// Without root, umoci must not try to keep file ownership.
const ROOTLESS = process.getuid?.() === 0 ? [] : ['--rootless'];

async function umociImage(layout: string, srcDir: string, tag: string, arch: string, file: string): Promise<void> {
  await sh(UMOCI, ['new', '--image', `${layout}:${tag}`]);
  await mkdir(path.join(srcDir, tag), { recursive: true });
  const src = path.join(srcDir, tag, 'hello.txt');
  await writeFile(src, file);
  await sh(UMOCI, ['insert', ...ROOTLESS, '--image', `${layout}:${tag}`, src, '/etc/hello.txt']);
  await sh(UMOCI, ['config', '--image', `${layout}:${tag}`, '--architecture', arch, '--os', 'linux', '--config.cmd', '/bin/sh']);
}

/**
 * An OCI layout made by umoci: images `amd64` and `arm64` (manifests without a mediaType field,
 * as umoci writes them), and `multi`, an OCI index of the two, added by hand since umoci makes none.
 */
export async function makeUmociLayout(workDir: string): Promise<string> {
  const layout = path.join(workDir, 'layout');
  await sh(UMOCI, ['init', '--layout', layout]);
  await umociImage(layout, path.join(workDir, 'src'), 'amd64', 'amd64', 'hello from amd64\n');
  await umociImage(layout, path.join(workDir, 'src'), 'arm64', 'arm64', 'hello from arm64\n');

  const indexPath = path.join(layout, 'index.json');
  const top = JSON.parse(await readFile(indexPath, 'utf8')) as LayoutIndex;
  const byName = (name: string) => {
    const m = top.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === name);
    if (!m) throw new Error(`umoci layout has no ${name}`);
    return m;
  };
  const child = (name: string, architecture: string) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: byName(name).digest,
    size: byName(name).size,
    platform: { architecture, os: 'linux' },
  });
  const multi = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [child('amd64', 'amd64'), child('arm64', 'arm64')],
    }),
  );
  const hex = createHash('sha256').update(multi).digest('hex');
  await writeFile(path.join(layout, 'blobs', 'sha256', hex), multi);
  top.manifests.push({
    mediaType: 'application/vnd.oci.image.index.v1+json',
    digest: `sha256:${hex}`,
    size: multi.length,
    annotations: { 'org.opencontainers.image.ref.name': 'multi' },
  });
  await writeFile(indexPath, JSON.stringify(top));
  return layout;
}

/** Reads the digest that an OCI layout's index.json names `ref`. */
export async function layoutDigest(layout: string, ref: string): Promise<string> {
  const top = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as LayoutIndex;
  const m = top.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!m) throw new Error(`${layout} has no ${ref}: ${JSON.stringify(top)}`);
  return m.digest;
}

/** Every blob file name in an OCI layout, as digests. */
export async function layoutBlobs(layout: string): Promise<string[]> {
  return (await readdir(path.join(layout, 'blobs', 'sha256'))).map((h) => `sha256:${h}`).sort();
}
