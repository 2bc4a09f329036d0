import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { removeTree, spawnDaemon, waitUntil } from './daemon';
import { run } from './exec';
import { requireTool } from './tools';

export interface Dockerd {
  /** Environment for the docker CLI: DOCKER_HOST and a private DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  /** `docker <args>` against this daemon; throws with the CLI's stderr on failure. */
  docker(args: readonly string[], timeoutMs?: number): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A private Docker engine: its own data, exec root and socket under one temp dir, no network setup
 * (no bridge, no iptables), vfs storage so it works on any filesystem. Containers must run with
 * `--network none`. Registries on 127.0.0.0/8 are insecure (plain HTTP) for dockerd by default.
 * `prefix` runs it under another command, e.g. a NetSandbox's.
 */
export async function startDockerd(opts: { prefix?: readonly string[]; /** More dockerd flags, e.g. --registry-mirror. */ args?: readonly string[] } = {}): Promise<Dockerd> {
  const dockerd = requireTool('dockerd');
  const dockerCli = requireTool('docker');
  // Under /tmp, not $TMPDIR: unix socket paths (including containerd's below the exec root) are
  // limited to ~100 bytes.
  const dir = await mkdtemp('/tmp/e2e-dockerd-');
  const socket = path.join(dir, 'sock');
  const configDir = path.join(dir, 'cli');
  await mkdir(configDir);
  // An empty CLI config keeps the user's credential helpers and contexts out of the tests.
  await writeFile(path.join(configDir, 'config.json'), '{}\n');
  const [cmd = dockerd, ...before] = [...(opts.prefix ?? []), dockerd];
  const daemon = spawnDaemon(cmd, [
    ...before,
    '--storage-driver=vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--bridge=none',
    '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'docker.pid'),
    '--host', `unix://${socket}`,
    ...(opts.args ?? []),
  ]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: configDir,
    // The classic builder: the BuildKit client may be absent and needs nothing it offers here.
    DOCKER_BUILDKIT: '0',
  };
  const docker = async (args: readonly string[], timeoutMs = 120_000) =>
    (await run(dockerCli, args, { env, timeoutMs })).stdout;
  const stop = async () => {
    try {
      await daemon.stop(20_000);
      await killManagedContainerd(dir);
    } finally {
      await removeTree(dir);
    }
  };
  try {
    await waitUntil(
      'dockerd',
      async () => (await run(dockerCli, ['info'], { env, timeoutMs: 10_000, allowFailure: true })).code === 0,
      daemon,
      60_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { env, docker, logs: daemon.logs, stop };
}

/**
 * dockerd runs its containerd in a session of its own and stops it on a clean shutdown; after a
 * SIGKILL it would outlive the test, so it is ended by the pid it recorded below our exec root.
 */
async function killManagedContainerd(dir: string): Promise<void> {
  const pid = Number((await readFile(path.join(dir, 'exec', 'containerd', 'containerd.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(dir)) return; // gone, or the pid was reused by something else
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
}
